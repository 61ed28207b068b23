from django.apps import AppConfig


class ReelsConfig(AppConfig):
    name = "apps.reels"
    label = "reels"
    verbose_name = "Reels"
