from django.urls import path

from apps.wallet import apis

urlpatterns = [
    path("", apis.WalletBalanceApi.as_view(), name="wallet-balance"),
    path("history/", apis.WalletHistoryApi.as_view(), name="wallet-history"),
    path("cashouts/", apis.CashoutListCreateApi.as_view(), name="wallet-cashouts"),
    path("kyc/", apis.KycApi.as_view(), name="wallet-kyc"),
    path("payout-destinations/", apis.PayoutDestinationListCreateApi.as_view(), name="wallet-payout-destinations"),
    path(
        "payout-destinations/<id:destination_id>/",
        apis.PayoutDestinationDetailApi.as_view(),
        name="wallet-payout-destination",
    ),
    path(
        "payout-destinations/<id:destination_id>/confirm/",
        apis.PayoutDestinationConfirmApi.as_view(),
        name="wallet-payout-destination-confirm",
    ),
    path(
        "payout-destinations/<id:destination_id>/default/",
        apis.PayoutDestinationDefaultApi.as_view(),
        name="wallet-payout-destination-default",
    ),
    path("spending-controls/", apis.SpendingControlsApi.as_view(), name="wallet-spending-controls"),
]
