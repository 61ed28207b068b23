from django.urls import path

from apps.live import apis

urlpatterns = [
    path("", apis.StreamGoLiveApi.as_view(), name="stream-go-live"),
    path("active/", apis.StreamListActiveApi.as_view(), name="stream-active"),
    path("active", apis.StreamListActiveDeprecatedApi.as_view()),  # the old path, deprecated
    path("trending/", apis.StreamListTrendingApi.as_view(), name="stream-trending"),
    path("<id:stream_id>/", apis.StreamDetailApi.as_view(), name="stream-detail"),
    path("<id:stream_id>/end/", apis.StreamEndApi.as_view(), name="stream-end"),
    path("<id:stream_id>/heartbeat/", apis.StreamHeartbeatApi.as_view(), name="stream-heartbeat"),
    path("<id:stream_id>/join/", apis.StreamJoinApi.as_view(), name="stream-join"),
    path("<id:stream_id>/leave/", apis.StreamLeaveApi.as_view(), name="stream-leave"),
    path("<id:stream_id>/token/", apis.StreamTokenApi.as_view(), name="stream-token"),
    path("moderators/", apis.RoomModeratorListCreateApi.as_view(), name="room-moderators"),
    path("moderators/<id:user_id>/", apis.RoomModeratorRemoveApi.as_view(), name="room-moderator-remove"),
    path("schedules/", apis.ScheduleListCreateApi.as_view(), name="schedules"),
    path("schedules/mine/", apis.ScheduleMineApi.as_view(), name="schedules-mine"),
    path("schedules/<id:schedule_id>/", apis.ScheduleDetailApi.as_view(), name="schedule-detail"),
    path(
        "schedules/<id:schedule_id>/subscription/",
        apis.ScheduleSubscriptionApi.as_view(),
        name="schedule-subscription",
    ),
    path("linkcasts/", apis.LinkCastInviteApi.as_view(), name="linkcast-invite"),
    path("linkcasts/<id:linkcast_id>/", apis.LinkCastDetailApi.as_view(), name="linkcast-detail"),
    path("linkcasts/<id:linkcast_id>/accept/", apis.LinkCastAcceptApi.as_view(), name="linkcast-accept"),
    path("linkcasts/<id:linkcast_id>/decline/", apis.LinkCastDeclineApi.as_view(), name="linkcast-decline"),
    path("linkcasts/<id:linkcast_id>/leave/", apis.LinkCastLeaveApi.as_view(), name="linkcast-leave"),
    path("linkcasts/<id:linkcast_id>/audio/", apis.LinkCastAudioApi.as_view(), name="linkcast-audio"),
    path("linkcasts/<id:linkcast_id>/token/", apis.LinkCastTokenApi.as_view(), name="linkcast-token"),
    path("linkcasts/<id:linkcast_id>/pk/", apis.LinkCastPkApi.as_view(), name="linkcast-pk"),
]
