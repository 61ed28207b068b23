"""Root-level pages: /payments/… (hand-off, callbacks, result) and the gateway sandbox /sandbox/…."""

from django.urls import include, path

from apps.payments import views

urlpatterns = [
    path("payments/esewa/<str:merchant_ref>/", views.esewa_handoff, name="payments-esewa-handoff"),
    path("payments/callback/esewa/success/", views.esewa_success, name="payments-esewa-success"),
    path("payments/callback/esewa/failure/", views.esewa_failure, name="payments-esewa-failure"),
    path("payments/callback/khalti/", views.khalti_return, name="payments-khalti-return"),
    path("payments/result/", views.result, name="payments-result-unknown"),
    path("payments/result/<str:merchant_ref>/", views.result, name="payments-result"),
    path("sandbox/", include("apps.payments.sandbox.urls")),
]
