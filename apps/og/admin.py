from django.contrib import admin

from apps.core.admin import ReadOnlyAdminMixin
from apps.og.models import OgDailyBonus, OgMembership, OgPurchase, OgTier


@admin.register(OgTier)
class OgTierAdmin(admin.ModelAdmin):
    """Ops edit tiers here. Price and period changes apply to purchases from now on."""

    list_display = (
        "level",
        "name",
        "price_coins",
        "duration_days",
        "daily_bonus_coins",
        "badge",
        "entrance_effect",
        "og_only_gifts",
        "chat_color",
        "is_active",
    )
    list_display_links = ("level", "name")
    list_filter = ("is_active", "og_only_gifts")
    search_fields = ("name", "badge")
    ordering = ("level",)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Memberships and purchases point at tiers: retire a tier (is_active off) instead.
        return False


@admin.register(OgMembership)
class OgMembershipAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "tier", "status", "started_at", "expires_at", "paid_price_coins", "paid_duration_days")
    list_filter = ("status", "tier")
    search_fields = ("user__username",)
    list_select_related = ("user", "tier")
    date_hierarchy = "expires_at"


@admin.register(OgPurchase)
class OgPurchaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "user",
        "kind",
        "tier",
        "previous_tier",
        "price_coins",
        "credit_coins",
        "charged_coins",
        "expires_at",
        "created_at",
    )
    list_filter = ("kind", "tier")
    search_fields = ("user__username",)
    list_select_related = ("user", "tier", "previous_tier")
    date_hierarchy = "created_at"


@admin.register(OgDailyBonus)
class OgDailyBonusAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "membership", "tier", "day", "coins", "entry", "created_at")
    list_filter = ("day", "tier")
    search_fields = ("membership__user__username",)
    list_select_related = ("membership", "membership__user", "tier", "entry")
    date_hierarchy = "created_at"
