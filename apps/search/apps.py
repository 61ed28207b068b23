from django.apps import AppConfig


class SearchConfig(AppConfig):
    """The search endpoints: each app searches its own rows (apps/<app>/search.py); this app only
    serves them (no models)."""

    name = "apps.search"
    label = "search"
    verbose_name = "Search"
