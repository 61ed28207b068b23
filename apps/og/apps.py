from django.apps import AppConfig


class OgConfig(AppConfig):
    name = "apps.og"
    label = "og"
    verbose_name = "OG membership"
