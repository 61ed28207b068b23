from django.urls import path

from apps.games import apis

urlpatterns = [
    path("", apis.GameListApi.as_view(), name="games-list"),
    path("rounds/", apis.RoundListApi.as_view(), name="games-rounds"),
    path("rounds/<id:round_id>/verify/", apis.RoundVerifyApi.as_view(), name="games-round-verify"),
    path("seeds/", apis.FairSeedApi.as_view(), name="games-seed"),
    path("seeds/rotate/", apis.FairSeedRotateApi.as_view(), name="games-seed-rotate"),
    path("<slug:game>/play/", apis.GamePlayApi.as_view(), name="games-play"),
]
