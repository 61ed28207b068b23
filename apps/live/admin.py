from django.contrib import admin, messages
from django.db.models import Count
from django.utils import timezone
from django.utils.html import format_html

from apps.core.admin import ReadOnlyAdminMixin
from apps.core.exceptions import DomainError
from apps.live import services
from apps.live.categories import category_cache_clear
from apps.live.models import (
    Category,
    LinkCast,
    PkBattle,
    RoomModerator,
    ScheduledStream,
    Stream,
    StreamKick,
    StreamMute,
)
from apps.live.room_join import stream_facts_forget


class RoomFactsForgetMixin:
    """Edits here change what a room join reads (title, chat settings, kicks, mutes): the rooms'
    cached facts are forgotten after commit, as the services do."""

    stream_field = "stream_id"

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        stream_facts_forget(stream_ids=[getattr(obj, self.stream_field)])

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)  # type: ignore[misc]
        stream_facts_forget(stream_ids=[getattr(obj, self.stream_field)])

    def delete_queryset(self, request, queryset) -> None:
        stream_ids = [getattr(obj, self.stream_field) for obj in queryset]
        super().delete_queryset(request, queryset)  # type: ignore[misc]
        stream_facts_forget(stream_ids=stream_ids)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    """The stream category catalogue the apps offer (GET /api/v1/categories/), in `position` order.
    A slug is fixed once created (streams point at it); retire an entry by deactivating it. Entries
    in use cannot be deleted."""

    list_display = ("slug", "name_en", "name_ne", "icon", "position", "is_active", "streams_count")
    list_editable = ("name_en", "name_ne", "icon", "position", "is_active")
    list_filter = ("is_active",)
    search_fields = ("slug", "name_en", "name_ne")
    ordering = ("position", "slug")
    actions = ["activate", "deactivate"]

    def get_readonly_fields(self, request, obj=None):
        return ("slug",) if obj is not None else ()

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(streams_total=Count("streams"))

    @admin.display(description="streams", ordering="streams_total")
    def streams_count(self, category: Category) -> int:
        return category.streams_total  # type: ignore[attr-defined]

    @admin.action(description="Activate the selected categories", permissions=["change"])
    def activate(self, request, queryset) -> None:
        changed = queryset.update(is_active=True)
        category_cache_clear()
        self.message_user(request, f"Activated {changed} categories.", messages.SUCCESS)

    @admin.action(description="Deactivate the selected categories (streams keep them)", permissions=["change"])
    def deactivate(self, request, queryset) -> None:
        changed = queryset.update(is_active=False)
        category_cache_clear()
        self.message_user(request, f"Deactivated {changed} categories.", messages.SUCCESS)


@admin.register(Stream)
class StreamAdmin(RoomFactsForgetMixin, admin.ModelAdmin):
    stream_field = "pk"
    list_display = (
        "id",
        "title",
        "host",
        "status",
        "category",
        "current_viewers",
        "peak_viewers",
        "started_at",
        "watch",
    )
    list_filter = ("status", "category", "chat_mode")
    search_fields = ("title", "host__username", "host__display_name")
    list_select_related = ("host",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "host",
        "status",
        "channel_name",
        "started_at",
        "ended_at",
        "end_reason",
        "last_heartbeat_at",
        "current_viewers",
        "peak_viewers",
        "gift_coins_total",
        "gifts_count",
        "likes_total",
        "pinned_message",
    )
    actions = ["end_streams"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="room")
    def watch(self, obj: Stream) -> str:
        return format_html('<a href="/streams/{}/watch/">watch</a>', obj.pk)

    @admin.action(description="End the selected streams (moderation)", permissions=["change"])
    def end_streams(self, request, queryset) -> None:
        ended = 0
        for stream_id in queryset.filter(status__in=Stream.ACTIVE_STATUSES).values_list("pk", flat=True):
            try:
                services.stream_end(stream_id=stream_id, reason=f"ended by {request.user.username}", by_moderation=True)
                ended += 1
            except DomainError as exc:
                self.message_user(request, f"Stream {stream_id}: {exc.message}", messages.ERROR)
        self.message_user(request, f"Ended {ended} stream(s).", messages.SUCCESS)


@admin.register(StreamKick)
class StreamKickAdmin(RoomFactsForgetMixin, admin.ModelAdmin):
    list_display = ("stream", "user", "kicked_by", "reason", "created_at")
    list_select_related = ("stream", "user", "kicked_by")
    search_fields = ("user__username", "stream__title")
    raw_id_fields = ("stream", "user", "kicked_by")


@admin.register(StreamMute)
class StreamMuteAdmin(RoomFactsForgetMixin, admin.ModelAdmin):
    list_display = ("stream", "user", "muted_until", "created_at")
    list_select_related = ("stream", "user")
    search_fields = ("user__username", "stream__title")
    raw_id_fields = ("stream", "user")


@admin.register(RoomModerator)
class RoomModeratorAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who moderates whose rooms (appointed and removed by hosts through the API)."""

    list_display = ("host", "moderator", "created_at")
    list_select_related = ("host", "moderator")
    search_fields = ("host__username", "moderator__username")


@admin.register(ScheduledStream)
class ScheduledStreamAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Streams hosts announced (they schedule, change and cancel them through the API)."""

    list_display = ("title", "host", "starts_at", "status", "stream", "reminded_at")
    list_select_related = ("host",)
    search_fields = ("title", "host__username")
    date_hierarchy = "starts_at"

    @admin.display(description="status")
    def status(self, schedule: ScheduledStream) -> str:
        return schedule.status_at(timezone.now())


@admin.register(LinkCast)
class LinkCastAdmin(admin.ModelAdmin):
    list_display = ("id", "host_stream", "guest_stream", "status", "created_at", "started_at", "ended_at")
    list_filter = ("status",)
    list_select_related = ("host_stream", "guest_stream")
    readonly_fields = ("host_stream", "guest_stream", "status", "channel_name", "started_at", "ended_at", "end_reason")


@admin.register(PkBattle)
class PkBattleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: battles change only through the services (start, end task, LinkCast end)."""

    list_display = ("id", "linkcast", "status", "started_at", "ends_at", "host_coins", "guest_coins", "winner")
    list_filter = ("status",)
    list_select_related = ("linkcast", "winner")
    raw_id_fields = ("linkcast", "started_by", "winner")
