"""Browser-facing pages: the eSewa hand-off, the gateways' callbacks and the result page.

Callbacks arrive through the payer's browser, unauthenticated and forgeable: they record what came
and queue a verification (services), and never credit anything themselves.
"""

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from apps.payments import selectors, services
from apps.payments.models import Gateway, Payment


def _result_redirect(payment: Payment | None) -> HttpResponse:
    if payment is None:
        return HttpResponseRedirect(reverse("payments-result-unknown"))
    return HttpResponseRedirect(reverse("payments-result", args=[payment.merchant_ref]))


@require_GET
def esewa_handoff(request: HttpRequest, merchant_ref: str) -> HttpResponse:
    """The page the app opens in a web view: it posts the signed form to eSewa by itself."""
    payment = selectors.payment_by_ref(merchant_ref=merchant_ref)
    if payment is None or payment.gateway != Gateway.ESEWA:
        raise Http404
    checkout = selectors.payment_checkout(payment=payment)
    if checkout is None:
        return _result_redirect(payment)
    return render(request, "payments/esewa_handoff.html", {"payment": payment, "checkout": checkout})


@require_GET
def esewa_success(request: HttpRequest) -> HttpResponse:
    payment = services.esewa_callback_success(data=request.GET.get("data", ""), url=request.get_full_path())
    return _result_redirect(payment)


@require_GET
def esewa_failure(request: HttpRequest) -> HttpResponse:
    params = services.callback_params(request.GET)
    payment = services.esewa_callback_failure(ref=params.get("ref", ""), url=request.get_full_path(), data=params)
    return _result_redirect(payment)


@require_GET
def khalti_return(request: HttpRequest) -> HttpResponse:
    payment = services.khalti_callback(params=services.callback_params(request.GET), url=request.get_full_path())
    return _result_redirect(payment)


@require_GET
def result(request: HttpRequest, merchant_ref: str | None = None) -> HttpResponse:
    """Where the web view lands; the app closes it and reads the payment through the API."""
    payment = selectors.payment_by_ref(merchant_ref=merchant_ref) if merchant_ref else None
    return render(request, "payments/result.html", {"payment": payment})
