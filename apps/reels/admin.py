from django.contrib import admin, messages

from apps.core.exceptions import DomainError
from apps.reels import services
from apps.reels.models import Reel, ReelComment


@admin.register(Reel)
class ReelAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "author",
        "status",
        "duration_seconds",
        "moderation_score",
        "views_count",
        "likes_count",
        "created_at",
    )
    list_filter = ("status", "content_type")
    search_fields = ("author__username", "caption")
    list_select_related = ("author",)
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Reel._meta.fields]
    actions = ["take_down"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Take down the selected reels", permissions=["change"])
    def take_down(self, request, queryset) -> None:
        done = 0
        for reel in queryset:
            try:
                services.reel_takedown(reel_id=reel.pk, by=request.user, reason="breaks the community rules")
                done += 1
            except DomainError as exc:
                self.message_user(request, f"Reel {reel.pk}: {exc.message}", messages.ERROR)
        self.message_user(request, f"{done} reel(s) taken down.")


@admin.register(ReelComment)
class ReelCommentAdmin(admin.ModelAdmin):
    list_display = ("id", "reel", "author", "text", "was_masked", "created_at")
    list_filter = ("was_masked",)
    search_fields = ("author__username", "text")
    list_select_related = ("author", "reel")
    raw_id_fields = ("reel", "author")
