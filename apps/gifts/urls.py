from django.urls import path

from apps.gifts import apis, recommender_apis

urlpatterns = [
    path("", apis.GiftCatalogueApi.as_view(), name="gift-catalogue"),
    path("send/", apis.GiftSendApi.as_view(), name="gift-send"),
    path("recommendations/", recommender_apis.GiftRecommendationsApi.as_view(), name="gift-recommendations"),
    path("statement.csv", apis.HostStatementApi.as_view(), name="gift-statement"),
    path("leaderboards/gifters/", apis.TopGiftersApi.as_view(), name="gift-leaderboard-gifters"),
    path("leaderboards/hosts/", apis.TopHostsApi.as_view(), name="gift-leaderboard-hosts"),
    path(
        "leaderboards/streams/<id:stream_id>/gifters/",
        apis.StreamTopGiftersApi.as_view(),
        name="gift-leaderboard-stream",
    ),
]
