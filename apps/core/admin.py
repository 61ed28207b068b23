from django.contrib import admin

from apps.core.models import IdempotencyKey


class ReadOnlyAdminMixin:
    """For records that are evidence (ledger, payments, audit logs): viewable, never editable here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("key", "user", "response_status", "created_at")
    list_select_related = ("user",)
    search_fields = ("key", "user__username")
    date_hierarchy = "created_at"
