"""An offline stand-in for Sparrow SMS's HTTP API v2, served by our own server under /sandbox/sparrow/.

Same path (`v2/sms/`), fields, status codes and bodies as the real API (see sparrow.py), with its own
token and sender identity (SANDBOX_TOKEN, SANDBOX_SENDER). Instead of delivering, it keeps the
messages in the cache: the outbox page (/sandbox/sparrow/outbox/) shows the latest ones, so a demo
user can read their code, and tests read them with `outbox()`. A 10-digit number can be told to
make its sends fail (`scenario_set`), for good or for the next few sends only. Off (404) unless SMS_SANDBOX_ENABLED.

Views are async and touch only the cache: under daphne a sync API view sending an SMS to the sandbox on
the same server would otherwise wait for the very thread it occupies (as the payments sandbox).
"""

import functools
import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

SANDBOX_TOKEN = "v2_sandbox_token_halobuzz"  # noqa: S105  (the sandbox's published test credential)
SANDBOX_SENDER = "HaloBuzz"
OUTBOX_KEY = "sms_sandbox:outbox"
SCENARIO_KEY = "sms_sandbox:scenario:{number}"
SCENARIO_TIMES_KEY = "sms_sandbox:scenario-times:{number}"
OUTBOX_SIZE = 100
TTL = 24 * 3600
NEPALI_MOBILE = re.compile(r"^9[678][0-9]{8}$")  # NTC, Ncell, Smart: 96x, 97x, 98x

# Refusals the real API documents, by response_code.
ERRORS = {
    1000: "A required field is missing",
    1002: "Invalid Token",
    1008: "Invalid Sender",
    1010: "Text cannot be empty",
    1011: "No valid receiver",
    1013: "Insufficient Credits",
}
SCENARIOS = {"insufficient_credits": 1013, "outage": 503}

View = Callable[..., Coroutine[Any, Any, HttpResponse]]


def sandbox_view(view: View) -> View:
    @functools.wraps(view)
    async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.SMS_SANDBOX_ENABLED:
            raise Http404
        return await view(request, *args, **kwargs)

    return csrf_exempt(wrapper)


def outbox() -> list[dict[str, Any]]:
    """The messages delivered, newest first: {to (10 digits), from, text, at (ISO time)}."""
    return list(cache.get(OUTBOX_KEY) or [])


def outbox_clear() -> None:
    cache.delete(OUTBOX_KEY)


def scenario_set(number: str, scenario: str | None, *, times: int | None = None) -> None:
    """Make sends to the 10-digit `number` fail as `scenario` (SCENARIOS): every one, or only the next
    `times` (then it delivers again: a provider that recovers). None stops it."""
    keys = [SCENARIO_KEY.format(number=number), SCENARIO_TIMES_KEY.format(number=number)]
    if scenario is None:
        cache.delete_many(keys)
        return
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}")
    cache.set(keys[0], scenario, TTL)
    if times is None:
        cache.delete(keys[1])
    else:
        cache.set(keys[1], times, TTL)


def _scenario_take(number: str) -> str | None:
    """The scenario a send to `number` meets now, counting one off a limited one."""
    scenario = cache.get(SCENARIO_KEY.format(number=number))
    if scenario is None:
        return None
    times_key = SCENARIO_TIMES_KEY.format(number=number)
    if cache.get(times_key) is None:
        return scenario
    if cache.decr(times_key) < 0:
        scenario_set(number, None)
        return None
    return scenario


def _refuse(code: int) -> JsonResponse:
    return JsonResponse({"response_code": code, "response": ERRORS[code]}, status=403)


def _fields(request: HttpRequest) -> dict[str, str]:
    if request.method == "GET":
        return {key: request.GET.get(key, "") for key in ("token", "from", "to", "text")}
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        return {key: str(body.get(key, "")) for key in ("token", "from", "to", "text")}
    return {key: request.POST.get(key, "") for key in ("token", "from", "to", "text")}


@sandbox_view
async def send_sms(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405)
    fields = _fields(request)
    if not all(fields[key] for key in ("token", "from", "to")) or "text" not in fields:
        return _refuse(1000)
    if fields["token"] != SANDBOX_TOKEN:
        return _refuse(1002)
    if fields["from"] != SANDBOX_SENDER:
        return _refuse(1008)
    if not fields["text"].strip():
        return _refuse(1010)
    receivers = [number.strip() for number in fields["to"].split(",") if NEPALI_MOBILE.match(number.strip())]
    if not receivers:
        return _refuse(1011)
    for number in receivers:
        scenario = _scenario_take(number)
        if scenario == "outage":
            return HttpResponse("<html><body>Service Unavailable</body></html>", status=503)
        if scenario == "insufficient_credits":
            return _refuse(1013)
    now = timezone.now().isoformat()
    delivered = [{"to": number, "from": fields["from"], "text": fields["text"], "at": now} for number in receivers]
    # A read-modify-write: two sends at the same instant may drop one entry, which a sandbox can live with.
    cache.set(OUTBOX_KEY, (delivered[::-1] + outbox())[:OUTBOX_SIZE], TTL)
    count = len(receivers)
    return JsonResponse(
        {"count": count, "response_code": 200, "response": f"{count} mesages has been queued for delivery"}
    )


@sandbox_view
async def outbox_page(request: HttpRequest) -> HttpResponse:
    """The latest messages, for a person running the demo (`?to=98XXXXXXXX` narrows to one number)."""
    messages = outbox()
    number = request.GET.get("to", "").strip()
    if number:
        messages = [message for message in messages if message["to"] == number]
    return HttpResponse(render_to_string("accounts/sms_sandbox_outbox.html", {"messages": messages, "number": number}))
