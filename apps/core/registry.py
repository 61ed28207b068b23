"""Per-app hooks that core gathers: `apps/<app>/demo.py` (seed_demo), `roles.py` (bootstrap_roles) and
`metrics.py` (the analytics page and /metrics: apps.core.analytics.OpsReads)."""

import importlib
from collections.abc import Iterator
from types import ModuleType

from django.apps import apps as django_apps


def app_modules(module_name: str) -> Iterator[ModuleType]:
    """Yield `apps.<app>.<module_name>` for every installed project app that has one, in INSTALLED_APPS order."""
    for config in django_apps.get_app_configs():
        if not config.name.startswith("apps."):
            continue
        try:
            yield importlib.import_module(f"{config.name}.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.{module_name}":
                raise
