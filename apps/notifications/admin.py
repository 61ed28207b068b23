from django.contrib import admin
from django.http import HttpRequest

from apps.core.admin import ReadOnlyAdminMixin
from apps.notifications.models import Device, Notification, Preference


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    """Push devices. Deleting one stops pushes to it until the app registers again."""

    list_display = ("id", "user", "platform", "locale", "short_token", "created_at", "last_seen_at")
    list_filter = ("platform",)
    search_fields = ("user__username", "user__display_name")
    list_select_related = ("user",)
    readonly_fields = ("user", "token", "platform", "locale", "created_at", "last_seen_at")
    ordering = ("-last_seen_at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Device | None = None) -> bool:
        return False

    @admin.display(description="token")
    def short_token(self, obj: Device) -> str:
        return f"{obj.token[:12]}…"  # enough to match a support report, not a usable token


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "user", "kind", "count", "created_at", "read_at", "pushed_at")
    list_filter = ("kind", ("read_at", admin.EmptyFieldListFilter), ("pushed_at", admin.EmptyFieldListFilter))
    search_fields = ("user__username",)
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)


@admin.register(Preference)
class PreferenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "go_live", "gift_received", "new_follower", "quiet_hours_start", "quiet_hours_end")
    list_filter = ("go_live", "gift_received", "new_follower")
    search_fields = ("user__username",)
    list_select_related = ("user",)
