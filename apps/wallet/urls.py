from django.urls import path

from apps.wallet import apis

urlpatterns = [
    path("", apis.WalletBalanceApi.as_view(), name="wallet-balance"),
    path("history/", apis.WalletHistoryApi.as_view(), name="wallet-history"),
    path("cashouts/", apis.CashoutListCreateApi.as_view(), name="wallet-cashouts"),
    path("spending-controls/", apis.SpendingControlsApi.as_view(), name="wallet-spending-controls"),
]
