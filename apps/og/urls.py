from django.urls import path

from apps.og import apis

urlpatterns = [
    path("tiers/", apis.OgTierListApi.as_view(), name="og-tiers"),
    path("buy/", apis.OgBuyApi.as_view(), name="og-buy"),
    path("me/", apis.OgMeApi.as_view(), name="og-me"),
]
