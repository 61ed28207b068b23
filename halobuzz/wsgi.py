"""WSGI entry point: the REST API and admin run here under gunicorn in production."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobuzz.settings")

application = get_wsgi_application()


def warm_up() -> None:
    """Do here what each worker would otherwise do on its first request: import the URLconf (every
    view module, fpdf and fontTools among them), build the resolver's reverse and namespace tables
    and load the message catalogues. gunicorn preloads this module in its master
    (deploy/gunicorn.conf.py), so a new or recycled worker starts with all of it; measured, the
    first request of a worker cost 0.7-1.0 s of CPU without it."""
    from django.conf import settings
    from django.urls import get_resolver, reverse
    from django.utils import translation

    get_resolver().url_patterns  # noqa: B018 - imports every view
    for code, _ in settings.LANGUAGES:
        with translation.override(code):
            reverse("admin:index")  # the reverse and namespace tables are kept per language


warm_up()
