"""Second factor for staff in the admin (ADMIN_REQUIRE_2FA): a TOTP code from a confirmed device.

Devices are django-otp's: a superuser who passed this page adds a TOTP device for a colleague under
"OTP_TOTP > TOTP devices" (the admin shows its QR code). To let the very first superuser in, run
`manage.py addstatictoken <username>`: it prints a one-time backup code that this page accepts.
"""

from __future__ import annotations

import logging

import django_otp
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_otp import user_has_device

logger = logging.getLogger(__name__)


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("admin:index")


@never_cache
@csrf_protect
def admin_two_factor_view(request: HttpRequest) -> HttpResponse:
    """Ask a signed-in staff member for a one-time password; refuse staff without a confirmed device."""
    user = request.user
    if not user.is_authenticated or not user.is_staff:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    context = {
        **admin.site.each_context(request),
        "title": "Two-factor verification",
        "next": _safe_next(request),
        "has_device": user_has_device(user, confirmed=True),
        "required": settings.ADMIN_REQUIRE_2FA,
        "error": "",
    }
    if user.is_verified():  # type: ignore[attr-defined]  # added by django_otp's OTPMiddleware
        return redirect(context["next"])
    if not context["has_device"]:
        logger.warning("staff without a confirmed OTP device refused the admin", extra={"user_id": user.pk})
        return TemplateResponse(request, "admin/twofactor_verify.html", context, status=403)
    if request.method == "POST":
        token = (request.POST.get("otp_token") or "").strip()
        device = django_otp.match_token(user, token) if token.isalnum() and len(token) <= 16 else None
        if device is not None:
            django_otp.login(request, device)
            logger.info("staff passed the second factor", extra={"user_id": user.pk})
            return redirect(context["next"])
        context["error"] = "That code is not valid. Check your authenticator's clock and try again."
    return TemplateResponse(request, "admin/twofactor_verify.html", context)
