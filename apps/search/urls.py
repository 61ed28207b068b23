from django.urls import path

from apps.search import apis

urlpatterns = [
    path("", apis.SearchTopApi.as_view(), name="search-top"),
    path("users/", apis.SearchUsersApi.as_view(), name="search-users"),
    path("streams/", apis.SearchStreamsApi.as_view(), name="search-streams"),
    path("reels/", apis.SearchReelsApi.as_view(), name="search-reels"),
]
