"""Mounted at /sandbox/sparrow/. `v2/` mirrors the real API's base path."""

from django.urls import path

from apps.accounts.sms import sandbox

urlpatterns = [
    path("v2/sms/", sandbox.send_sms, name="sandbox-sparrow-sms"),
    path("outbox/", sandbox.outbox_page, name="sandbox-sparrow-outbox"),
]
