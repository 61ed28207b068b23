"""The page an email link opens: confirm an email (verification, or one half of a change), or choose
a new password. GET only shows a form (mail scanners open links); the POST acts. The app may instead
send the token to the API (/api/v1/auth/email/confirm/, /api/v1/auth/password/reset/confirm/)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods
from rest_framework import serializers

from apps.accounts import recovery, verification
from apps.accounts.exceptions import CodeExpired
from apps.core.client_address import client_address
from apps.core.exceptions import DomainError

PAGE = "accounts/email_link.html"


def _messages(error: serializers.ValidationError) -> list[str]:
    detail = error.detail
    if isinstance(detail, dict):
        return [str(message) for messages in detail.values() for message in messages]
    return [str(message) for message in detail]


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def email_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        code = verification.link_check(
            token=token, purposes=(*recovery.LINK_PURPOSES, verification.Purpose.PASSWORD_RESET)
        )
    except CodeExpired as exc:
        return render(request, PAGE, {"state": "expired", "error": exc.message}, status=410)
    reset = code.purpose == verification.Purpose.PASSWORD_RESET
    context: dict = {"state": "form", "reset": reset, "errors": []}
    if request.method == "POST":
        try:
            if reset:
                recovery.password_reset_confirm(
                    token=token, new_password=request.POST.get("new_password", ""), client=client_address(request)
                )
                context["state"] = "reset_done"
            else:
                confirmed = recovery.email_link_confirm(token=token)
                context["state"] = "confirmed" if confirmed.applied else "half_confirmed"
        except serializers.ValidationError as exc:
            context["errors"] = _messages(exc)
        except DomainError as exc:
            context["errors"] = [str(exc.message)]
    return render(request, PAGE, context)
