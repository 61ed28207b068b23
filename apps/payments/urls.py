from django.urls import path

from apps.payments import apis

urlpatterns = [
    path("", apis.PaymentListCreateApi.as_view(), name="payments"),
    path("packages/", apis.PackageListApi.as_view(), name="payments-packages"),
    path("<id:payment_id>/", apis.PaymentDetailApi.as_view(), name="payments-detail"),
    path("<id:payment_id>/verify/", apis.PaymentVerifyApi.as_view(), name="payments-verify"),
]
