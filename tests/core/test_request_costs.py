"""What every request used to pay again and again is paid once: the URLconf is imported when the
WSGI module is (gunicorn preloads it in its master, so no worker spends its first request on it),
the Content-Security-Policy headers built from settings are kept, the message storage is made only
when used, and a hot input serializer keeps its bound fields. Each keeps the behaviour it replaces."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from csp.utils import build_policy
from django.conf import settings
from django.contrib import messages
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.utils.functional import empty

from apps.core.middleware import MessageMiddleware
from apps.gifts.apis import GiftSendApi

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_wsgi_module_imports_the_urlconf_and_builds_the_resolver():
    probe = (
        "import sys, halobuzz.wsgi\n"
        "from django.urls import get_resolver\n"
        "from django.utils import translation\n"
        "resolver = get_resolver()\n"
        "print('halobuzz.urls' in sys.modules, 'apps.gifts.apis' in sys.modules,"
        " sorted(resolver._reverse_dict), sorted(resolver._namespace_dict))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=os.environ, capture_output=True, text=True, check=True
    )
    assert out.stdout.split("\n")[-2] == "True True ['en', 'ne'] ['en', 'ne']", out.stderr[-2000:]


@pytest.mark.django_db
def test_the_kept_policy_is_the_one_django_csp_builds_and_follows_the_settings():
    response = Client().get("/api/v1/gifts/")
    assert response["Content-Security-Policy"] == build_policy()
    changed = {**settings.CONTENT_SECURITY_POLICY}
    changed["DIRECTIVES"] = {**changed["DIRECTIVES"], "img-src": ["'self'"]}
    with override_settings(CONTENT_SECURITY_POLICY=changed):
        narrowed = Client().get("/api/v1/gifts/")["Content-Security-Policy"]
        assert narrowed == build_policy() and "img-src 'self';" in narrowed + ";"
    assert Client().get("/api/v1/gifts/")["Content-Security-Policy"] == response["Content-Security-Policy"]


@pytest.mark.django_db
def test_a_report_only_policy_is_sent_too_and_an_excluded_prefix_gets_none():
    report_only = {"DIRECTIVES": {"default-src": ["'self'"], "report-uri": "/csp-report/"}}
    with override_settings(CONTENT_SECURITY_POLICY_REPORT_ONLY=report_only):
        assert Client().get("/api/v1/gifts/")["Content-Security-Policy-Report-Only"] == build_policy(report_only=True)
    excluded = {**settings.CONTENT_SECURITY_POLICY, "EXCLUDE_URL_PREFIXES": ["/api/v1/gifts/"]}
    with override_settings(CONTENT_SECURITY_POLICY=excluded):
        assert "Content-Security-Policy" not in Client().get("/api/v1/gifts/")


def test_the_gift_send_input_keeps_its_fields_and_still_validates_each_request_alone():
    serializer = GiftSendApi.InputSerializer
    first, second = serializer(data={"stream": 0, "gift": "x"}), serializer(data={"stream": 7, "gift": 3})
    assert first.fields is second.fields  # built once, not deep-copied per send
    assert not first.is_valid() and set(first.errors) == {"stream", "gift"}
    assert second.is_valid(), second.errors
    assert second.validated_data == {"stream": 7, "gift": 3, "quantity": 1, "confirm": False}
    third = serializer(data={"stream": 7, "gift": 3, "quantity": 10**6, "colour": "red"})
    assert not third.is_valid() and set(third.errors) == {"colour"}  # unknown fields are still refused first
    assert serializer(data={"stream": 2**63, "gift": 1}).is_valid() is False  # ids stay bounded


def _session_request(path: str = "/"):
    request = RequestFactory().get(path)
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    return request


def test_the_message_storage_is_made_only_when_something_uses_it():
    request = _session_request()
    response = MessageMiddleware(lambda r: HttpResponse("ok"))(request)
    assert request._messages._wrapped is empty  # an API request never pays for it
    assert "messages" not in response.cookies

    def view(r):
        messages.success(r, "Saved.")
        return HttpResponse("ok")

    request = _session_request()
    response = MessageMiddleware(view)(request)
    assert "messages" in response.cookies  # a message still reaches the next page
    following = _session_request()
    following.COOKIES["messages"] = response.cookies["messages"].value
    shown = []
    MessageMiddleware(lambda r: shown.extend(str(m) for m in messages.get_messages(r)) or HttpResponse())(following)
    assert shown == ["Saved."]
