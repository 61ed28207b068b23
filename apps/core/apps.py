from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Platform"

    def ready(self) -> None:
        from django.contrib import admin

        admin.site.site_header = "HaloBuzz operations"
        admin.site.site_title = "HaloBuzz admin"
        admin.site.index_title = "Moderation, finance and operations"
