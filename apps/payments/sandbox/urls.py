"""Mounted at /sandbox/. Paths after esewa/ and khalti/ mirror the real gateways' paths."""

from django.urls import path

from apps.payments.sandbox import views

urlpatterns = [
    path("esewa/api/epay/main/v2/form", views.esewa_form, name="sandbox-esewa-form"),
    path("esewa/api/epay/transaction/status/", views.esewa_status, name="sandbox-esewa-status"),
    path("esewa/pay/<str:transaction_uuid>/", views.esewa_pay, name="sandbox-esewa-pay"),
    path("khalti/api/v2/epayment/initiate/", views.khalti_initiate, name="sandbox-khalti-initiate"),
    path("khalti/api/v2/epayment/lookup/", views.khalti_lookup, name="sandbox-khalti-lookup"),
    path("khalti/pay/", views.khalti_pay, name="sandbox-khalti-pay"),
    path("scenarios/<str:ref>/", views.scenario, name="sandbox-scenario"),
]
