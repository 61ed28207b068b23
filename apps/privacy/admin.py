from django.contrib import admin

from apps.core.admin import ReadOnlyAdminMixin
from apps.privacy.models import AccountDeletion


@admin.register(AccountDeletion)
class AccountDeletionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Deletion requests: staff see them, only the user (request, undo) and the sweep change them."""

    list_display = (
        "id",
        "user",
        "status",
        "requested_at",
        "due_at",
        "completed_at",
        "coins_forfeited",
        "earnings_forfeited",
    )
    list_filter = ("status",)
    search_fields = ("user__username", "=user__id")
    list_select_related = ("user",)
    date_hierarchy = "requested_at"
    exclude = ("restore",)  # the name and bio kept for the undo: personal data staff need not see
