from django.contrib import admin

from apps.core.admin import ReadOnlyAdminMixin
from apps.gifts.models import Gift, GiftSend
from apps.gifts.services import gift_catalogue_invalidate


@admin.register(Gift)
class GiftAdmin(admin.ModelAdmin):
    list_display = ("name", "coin_price", "category", "og_only", "is_active", "order")
    list_editable = ("is_active", "order")
    list_filter = ("category", "og_only", "is_active")
    search_fields = ("name",)
    ordering = ("order", "coin_price")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # sends point at gifts: retire a gift by making it inactive

    def save_model(self, request, obj: Gift, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        gift_catalogue_invalidate()


@admin.register(GiftSend)
class GiftSendAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "created_at", "sender", "host", "stream", "gift", "quantity", "coins", "host_share")
    list_filter = ("gift",)
    search_fields = ("sender__username", "host__username")
    list_select_related = ("sender", "host", "stream", "gift")
    date_hierarchy = "created_at"
    raw_id_fields = ("sender", "host", "stream", "entry")
