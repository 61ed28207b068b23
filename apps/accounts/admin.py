from typing import cast

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts import duties, services
from apps.accounts.models import Block, Follow, User


def _acting(request: HttpRequest) -> User:
    """The signed-in staff member (the admin lets no anonymous visitor reach an action or a form)."""
    return cast(User, request.user)


class BannedFilter(admin.SimpleListFilter):
    title = "ban"
    parameter_name = "banned"

    def lookups(self, request, model_admin):
        return [("yes", "Banned now"), ("no", "Not banned")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(banned_until__gt=now)
        if self.value() == "no":
            return queryset.exclude(banned_until__gt=now)
        return queryset


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = (
        "username",
        "display_name",
        "email",
        "phone",
        "country",
        "age_verification",
        "banned_until",
        "is_staff",
        "date_joined",
    )
    list_filter = (BannedFilter, "age_verification", "country", "is_staff", "is_active", "groups")
    search_fields = ("username", "display_name", "email", "phone")
    ordering = ("-date_joined",)
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("display_name", "email", "phone", "avatar", "bio", "date_of_birth", "country")}),
        ("Safety", {"fields": ("age_verification", "banned_until", "ban_reason")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    actions = ("ban_7_days", "ban_permanently", "unban")

    # Moderators and Ops may edit users (profiles, bans) but must not grant themselves more power.
    PRIVILEGE_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += self.PRIVILEGE_FIELDS
        return fields

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = ""):  # noqa: A002
        if not request.user.is_superuser:
            raise PermissionDenied  # setting someone's password would let staff take the account over
        return super().user_change_password(request, id, form_url)

    # Separation of duties (apps.accounts.duties): staff edit, deactivate, ban and unban only accounts
    # below their own role; the services refuse the rest too.
    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or duties.outranks(_acting(request), obj))

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or duties.outranks(_acting(request), obj))

    def _refused(self, request: HttpRequest, queryset: QuerySet[User], verb: str) -> bool:
        """Tell which selected accounts are not below the acting staff member's role: then nothing changes."""
        refused = [user.username for user in queryset if not duties.outranks(_acting(request), user)]
        if refused:
            self.message_user(
                request,
                f"Nothing was changed: you cannot {verb} {', '.join(refused)} (yourself, or staff at or above "
                "your role).",
                messages.ERROR,
            )
        return bool(refused)

    def _ban(self, request: HttpRequest, queryset: QuerySet[User], days: int | None, label: str) -> None:
        if self._refused(request, queryset, "ban"):
            return
        for user in queryset:
            services.user_ban(
                user=user, days=days, reason=f"{label} by {request.user.username} in admin", by=_acting(request)
            )
        self.message_user(request, f"Banned {queryset.count()} user(s) {label}.", messages.SUCCESS)

    @admin.action(description="Ban for 7 days", permissions=["change"])
    def ban_7_days(self, request, queryset):
        self._ban(request, queryset, 7, "for 7 days")

    @admin.action(description="Ban permanently", permissions=["change"])
    def ban_permanently(self, request, queryset):
        self._ban(request, queryset, None, "permanently")

    @admin.action(description="Unban", permissions=["change"])
    def unban(self, request, queryset):
        if self._refused(request, queryset, "unban"):
            return
        for user in queryset:
            services.user_unban(user=user, by=_acting(request))
        self.message_user(request, f"Unbanned {queryset.count()} user(s).", messages.SUCCESS)


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    list_display = ("follower", "followee", "created_at")
    list_select_related = ("follower", "followee")
    search_fields = ("follower__username", "followee__username")
    raw_id_fields = ("follower", "followee")


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ("blocker", "blocked", "created_at")
    list_select_related = ("blocker", "blocked")
    search_fields = ("blocker__username", "blocked__username")
    raw_id_fields = ("blocker", "blocked")
