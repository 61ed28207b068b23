from django import forms
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from apps.core.admin import ReadOnlyAdminMixin
from apps.core.exceptions import DomainError
from apps.wallet import services
from apps.wallet.models import (
    Account,
    CashoutHold,
    CashoutRequest,
    CoinGrant,
    JournalEntry,
    Posting,
    SpendingControls,
)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "owner", "balance", "history")
    list_filter = ("kind",)
    search_fields = ("owner__username", "owner__email", "owner__phone")
    list_select_related = ("owner",)

    @admin.display(description="history")
    def history(self, obj: Account) -> str:
        url = reverse("admin:wallet_posting_changelist") + f"?account__id__exact={obj.pk}"
        return format_html('<a href="{}">postings</a>', url)


class PostingInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Posting
    fields = ("account", "amount", "applied")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "ref", "memo", "created_by", "created_at")
    list_filter = ("kind",)
    search_fields = ("ref", "memo", "created_by__username")
    list_select_related = ("created_by",)
    date_hierarchy = "created_at"
    inlines = [PostingInline]


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "entry", "account", "amount", "applied")
    list_filter = ("account__kind", "entry__kind", "applied")
    search_fields = ("account__owner__username", "entry__ref")
    list_select_related = ("entry", "account", "account__owner")


class CoinGrantForm(forms.ModelForm):
    class Meta:
        model = CoinGrant
        fields = ("user", "amount", "reason")

    granted_by_id: int | None = None  # set by CoinGrantAdmin.get_form

    def clean_user(self):
        user = self.cleaned_data["user"]
        if user is not None and user.pk == self.granted_by_id:
            raise forms.ValidationError("Nobody grants coins to themselves: ask another Finance member.")
        return user

    def clean_amount(self) -> int:
        amount = self.cleaned_data["amount"]
        if amount <= 0:
            raise forms.ValidationError("Grant a positive number of coins.")
        return amount


@admin.register(CoinGrant)
class CoinGrantAdmin(admin.ModelAdmin):
    """Finance grants coins here; each grant is a ledger entry from the issuance account."""

    form = CoinGrantForm
    list_display = ("id", "user", "amount", "reason", "granted_by", "created_at")
    list_select_related = ("user", "granted_by")
    search_fields = ("user__username", "reason")
    raw_id_fields = ("user",)

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"granted_by_id": request.user.pk})

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: CoinGrant, form, change: bool) -> None:
        grant = services.coins_grant(user=obj.user, amount=obj.amount, reason=obj.reason, granted_by=request.user)
        obj.pk = grant.pk  # so the admin's redirect and message point at the recorded grant


@admin.register(CashoutRequest)
class CashoutRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "host",
        "coins",
        "amount_npr",
        "status",
        "hold",
        "created_at",
        "reviewed_by",
        "reviewed_at",
    )
    list_filter = ("status",)
    search_fields = ("host__username",)
    list_select_related = ("host", "reviewed_by")
    actions = ("approve", "reject")

    def get_queryset(self, request: HttpRequest) -> QuerySet[CashoutRequest]:
        active = CashoutHold.objects.filter(host_id=OuterRef("host_id"), released_at__isnull=True)
        return super().get_queryset(request).annotate(host_held=Exists(active))

    @admin.display(description="hold")
    def hold(self, obj: CashoutRequest) -> str:
        if obj.status != CashoutRequest.Status.REQUESTED or not getattr(obj, "host_held", False):
            return ""
        url = reverse("admin:wallet_cashouthold_changelist") + f"?host__id__exact={obj.host_id}&active=yes"
        return format_html('<a href="{}">held for review</a>', url)

    @admin.display(description="NPR")
    def amount_npr(self, obj: CashoutRequest) -> str:
        return f"{obj.amount_paisa // 100}.{obj.amount_paisa % 100:02d}"

    def has_change_permission(self, request, obj=None) -> bool:
        # Review happens through the actions, which need the change permission.
        return request.user.has_perm("wallet.change_cashoutrequest")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def _review(self, request, queryset, approve: bool) -> None:
        done = 0
        for cashout in queryset:
            try:
                if approve:
                    services.cashout_approve(request_id=cashout.pk, reviewer=request.user)
                else:
                    services.cashout_reject(request_id=cashout.pk, reviewer=request.user, note="Rejected in admin")
                done += 1
            except DomainError as exc:
                self.message_user(request, f"#{cashout.pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{'Approved' if approve else 'Rejected'} {done} cash-out(s).", messages.SUCCESS)

    @admin.action(description="Approve (paid out)", permissions=["change"])
    def approve(self, request, queryset):
        self._review(request, queryset, approve=True)

    @admin.action(description="Reject (return the earnings)", permissions=["change"])
    def reject(self, request, queryset):
        self._review(request, queryset, approve=False)


class ActiveHoldFilter(admin.SimpleListFilter):
    title = "active"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return (("yes", "Active"), ("no", "Released"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(released_at__isnull=self.value() == "yes")
        return queryset


@admin.register(CashoutHold)
class CashoutHoldAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Why hosts' cash-outs wait. Placed and released by the services that own the reason (fraud cases)."""

    list_display = ("id", "host", "reason", "source", "ref", "created_at", "released_at", "released_by")
    list_filter = (ActiveHoldFilter, "source")
    search_fields = ("host__username", "reason", "ref")
    list_select_related = ("host", "released_by")


@admin.register(SpendingControls)
class SpendingControlsAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the user sets their own controls (a raise waits for the cool-off, which staff cannot skip)."""

    list_display = ("user", "daily_limit", "monthly_limit", "paused", "spent_day", "spent_month", "updated_at")
    list_filter = ("paused",)
    search_fields = ("user__username", "user__email", "user__phone")
    list_select_related = ("user",)
