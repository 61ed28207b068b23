from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Platform"

    def ready(self) -> None:
        from django.contrib import admin
        from django.urls import register_converter

        from apps.core.bounds import IdConverter

        register_converter(IdConverter, "id")  # before any URLconf is imported

        admin.site.site_header = "HaloBuzz operations"
        admin.site.site_title = "HaloBuzz admin"
        admin.site.index_title = "Moderation, finance and operations"
