from django.contrib import admin

from apps.moderation import services
from apps.moderation.models import BannedWord, ModerationSettings


@admin.register(BannedWord)
class BannedWordAdmin(admin.ModelAdmin):
    list_display = ["term", "language", "is_active", "created_at", "created_by"]
    list_editable = ["is_active"]
    list_filter = ["language", "is_active"]
    search_fields = ["term"]
    list_select_related = ["created_by"]
    readonly_fields = ["created_at", "created_by"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        services.banned_words_cache_clear()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.banned_words_cache_clear()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        services.banned_words_cache_clear()


@admin.register(ModerationSettings)
class ModerationSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "nsfw_review_threshold", "nsfw_block_threshold", "strikes_to_suspend", "updated_at"]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not ModerationSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.pk = 1
        super().save_model(request, obj, form, change)
        services.moderation_settings_cache_clear()
