"""WSGI entry point: the REST API and admin run here under gunicorn in production."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobuzz.settings")

application = get_wsgi_application()
