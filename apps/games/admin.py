from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from apps.core.admin import ReadOnlyAdminMixin
from apps.core.exceptions import DomainError
from apps.games import selectors, services
from apps.games.models import FairSeed, Game, GameDayReport, GameRound, PrizeSlot, PrizeTable
from apps.games.registry import GAME_TYPES, game_type_get
from apps.games.tables import Slot, table_errors, table_rtp


class PrizeSlotFormSet(forms.BaseInlineFormSet):
    """Checks the table as a whole: weights sum to exactly 1,000,000 and the RTP is under the cap."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        game_type = game_type_get(self.instance.slug)
        if game_type is None:
            raise forms.ValidationError(f"{self.instance.slug!r} is not a registered game type.")
        slots = [
            Slot(
                f.cleaned_data["label"],
                f.cleaned_data.get("face", ""),
                f.cleaned_data["multiplier"],
                f.cleaned_data["weight"],
            )
            for f in sorted(
                (f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")),
                key=lambda f: f.cleaned_data["position"],
            )
        ]
        errors = table_errors(game_type, slots, services.rtp_cap())
        if errors:
            raise forms.ValidationError(errors)


class PrizeSlotInline(admin.TabularInline):
    model = PrizeSlot
    formset = PrizeSlotFormSet
    fields = ("position", "label", "face", "multiplier", "weight")
    extra = 0
    ordering = ("position",)


class GameForm(forms.ModelForm):
    class Meta:
        model = Game
        fields = ("slug", "name", "is_enabled", "min_bet", "max_bet")

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if slug not in GAME_TYPES:
            raise forms.ValidationError(f"Registered game types: {', '.join(sorted(GAME_TYPES))}.")
        return slug

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("min_bet") and data.get("max_bet") and data["max_bet"] < data["min_bet"]:
            self.add_error("max_bet", "The maximum bet must be at least the minimum.")
        return data


@admin.register(Game)
class GameAdmin(admin.ModelAdmin):
    """Edit a game's limits and prize table. Saving publishes the table (validated) for new rounds."""

    form = GameForm
    inlines = [PrizeSlotInline]
    list_display = ("name", "slug", "is_enabled", "min_bet", "max_bet", "table_rtp", "rtp_cap")
    list_filter = ("is_enabled",)
    search_fields = ("name", "slug")
    list_select_related = ("current_table",)
    readonly_fields = ("table_rtp", "rtp_cap", "draft_rtp")

    @admin.display(description="RTP (published table)")
    def table_rtp(self, obj: Game) -> str:
        table = obj.current_table
        return f"{table.rtp:.4%}" if table is not None else "no table"

    @admin.display(description="RTP cap")
    def rtp_cap(self, obj: Game | None = None) -> str:
        return f"{services.rtp_cap():.2%}"

    @admin.display(description="RTP (slots below)")
    def draft_rtp(self, obj: Game) -> str:
        game_type = game_type_get(obj.slug) if obj.pk else None
        slots = [Slot(s.label, s.face, s.multiplier, s.weight) for s in obj.slots.all()] if game_type else []
        return f"{table_rtp(game_type, slots):.4%}" if game_type and slots else "-"

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # rounds point at games: disable one instead

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        try:
            table = services.prize_table_publish(game=form.instance, created_by=request.user)
        except DomainError as exc:
            errors = exc.details.get("errors", [exc.message])
            self.message_user(request, "Prize table not published: " + " ".join(errors), messages.WARNING)
        else:
            self.message_user(request, f"Prize table #{table.pk} is live (RTP {table.rtp:.4%}).", messages.SUCCESS)


@admin.register(PrizeTable)
class PrizeTableAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "game", "rtp_percent", "digest", "created_by", "created_at")
    list_filter = ("game",)
    list_select_related = ("game", "created_by")

    @admin.display(description="RTP", ordering="rtp")
    def rtp_percent(self, obj: PrizeTable) -> str:
        return f"{obj.rtp:.4%}"


@admin.register(FairSeed)
class FairSeedAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "user", "server_seed_hash", "client_seed", "next_nonce", "created_at", "revealed_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "server_seed_hash")
    exclude = ("server_seed",)  # secret until revealed; staff see the hash like everyone else


@admin.register(GameRound)
class GameRoundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "user", "game", "bet", "label", "multiplier", "payout", "nonce", "created_at")
    list_filter = ("game",)
    search_fields = ("user__username",)
    list_select_related = ("user", "game")
    date_hierarchy = "created_at"
    exclude = ("seed",)


@admin.register(GameDayReport)
class GameDayReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Realised return to player per game and day (from the rounds), next to each table's RTP."""

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            days = max(1, min(366, int(request.GET.get("days", 30))))
        except ValueError:
            days = 30
        rows = selectors.rtp_by_game_day(days=days)
        context = {
            **self.admin_site.each_context(request),
            "title": "Realised return to player by game and day",
            "opts": self.model._meta,
            "rows": rows,
            "days": days,
            "cap": services.rtp_cap(),
        }
        return TemplateResponse(request, "admin/games/rtp_report.html", context)
