from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from apps.core.models import IdempotencyKey


class ReadOnlyAdminMixin:
    """For records that are evidence or change only through services (ledger, payments, audit logs,
    moderation cases, battles): viewable, never added, edited or deleted here. The one copy: put it
    first in the bases of a ModelAdmin or an inline (`obj` is the inline's parent there)."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("key", "user", "response_status", "created_at")
    list_select_related = ("user",)
    search_fields = ("key", "user__username")
    date_hierarchy = "created_at"
