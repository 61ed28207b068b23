from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import request_user
from apps.accounts.selectors import user_get_visible
from apps.core.deprecation import DeprecatedApiMixin, mark_deprecated
from apps.core.pagination import FeedCursorPagination
from apps.core.parsers import FormParser, JSONParser, MultiPartParser
from apps.core.schema import request_per_media_type
from apps.core.serializers import IdField, StrictInputSerializer
from apps.live import selectors, services
from apps.live.agora import agora_configured
from apps.live.models import LinkCast, PkBattle, ScheduledStream, Stream


def ws_url(request: Request, stream_id: int) -> str:
    base = settings.LIVE_WS_BASE_URL.rstrip("/")
    if not base:
        base = f"{'wss' if request.is_secure() else 'ws'}://{request.get_host()}"
    return f"{base}/ws/streams/{stream_id}/"


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField(source="name")
    avatar = serializers.ImageField(allow_null=True)


CATEGORY_HELP = "The category's slug (see GET /api/v1/categories/); empty for none."
CATEGORY_NAME_HELP = "The category's name in the request's language; empty for none."


class CategoryNameField(serializers.CharField):
    """The name, in the request's language, of the category whose slug the attribute holds."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", CATEGORY_NAME_HELP)
        super().__init__(source="category_slug", read_only=True, **kwargs)

    def to_representation(self, value: Any) -> str:
        return selectors.category_name(value)


class StreamSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    category = serializers.CharField(source="category_slug", help_text=CATEGORY_HELP)
    category_name = CategoryNameField()
    cover = serializers.ImageField(allow_null=True)
    status = serializers.ChoiceField(choices=Stream.Status.choices)
    host = UserBriefSerializer()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    end_reason = serializers.CharField()
    current_viewers = serializers.IntegerField()
    peak_viewers = serializers.IntegerField()
    likes_total = serializers.IntegerField()
    gift_coins_total = serializers.IntegerField()
    gifts_count = serializers.IntegerField()
    chat_mode = serializers.ChoiceField(choices=Stream.ChatMode.choices)
    slow_mode_seconds = serializers.IntegerField()
    pinned_message = serializers.DictField(
        allow_null=True, help_text="The pinned `chat.message` payload (the room protocol), or null."
    )


class ActiveStreamSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    category = serializers.CharField(help_text=CATEGORY_HELP)
    category_name = serializers.CharField(help_text=CATEGORY_NAME_HELP)
    cover = serializers.CharField(allow_null=True)
    host = serializers.DictField()
    current_viewers = serializers.IntegerField()
    likes_total = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)


class AgoraTokenSerializer(serializers.Serializer):
    app_id = serializers.CharField()
    token = serializers.CharField()
    channel = serializers.CharField()
    uid = serializers.IntegerField()
    role = serializers.ChoiceField(choices=["publisher", "subscriber"])
    expires_at = serializers.IntegerField(help_text="Unix seconds.")


class RtmTokenSerializer(serializers.Serializer):
    app_id = serializers.CharField()
    token = serializers.CharField()
    user = serializers.CharField()
    expires_at = serializers.IntegerField()


class TokensSerializer(serializers.Serializer):
    rtc = AgoraTokenSerializer()
    rtm = RtmTokenSerializer()
    linkcast_rtc = AgoraTokenSerializer(allow_null=True)


class StreamSessionSerializer(serializers.Serializer):
    stream = StreamSerializer()
    agora = TokensSerializer(allow_null=True, help_text="null when Agora is not configured on the server.")
    ws_url = serializers.CharField()
    heartbeat_seconds = serializers.IntegerField(required=False)


def _session(request: Request, stream: Stream, *, heartbeat: bool = False) -> dict[str, Any]:
    body = {
        "stream": StreamSerializer(selectors.stream_with_gift_totals(stream), context={"request": request}).data,
        "agora": services.stream_tokens_or_none(stream=stream, user=request_user(request)),
        "ws_url": ws_url(request, stream.pk),
    }
    if heartbeat:
        body["heartbeat_seconds"] = settings.LIVE_HEARTBEAT_SECONDS
    return body


class StreamGoLiveApi(APIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    class InputSerializer(StrictInputSerializer):
        title = serializers.CharField(max_length=120)
        category = serializers.RegexField(r"^[A-Za-z0-9 _-]{0,40}$", required=False, allow_blank=True, default="")
        cover = serializers.ImageField(required=False, allow_null=True)

    @extend_schema(
        request=request_per_media_type(
            InputSerializer, "application/json", "multipart/form-data", "application/x-www-form-urlencoded"
        ),
        responses={201: StreamSessionSerializer},
        operation_id="streams_go_live",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        stream = services.stream_go_live(host=request_user(request), **data.validated_data)
        return Response(_session(request, stream, heartbeat=True), status=status.HTTP_201_CREATED)


# `offset` paging of the active list gave way to `cursor` (an offset re-ranks on every page).
OFFSET_DEPRECATED_SINCE = datetime(2026, 12, 6, tzinfo=UTC)


class StreamListActiveApi(APIView):
    class FilterSerializer(StrictInputSerializer):
        category = serializers.CharField(required=False, allow_blank=True, max_length=40, default="")
        following = serializers.BooleanField(required=False, default=False)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)
        cursor = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
        offset = serializers.IntegerField(required=False, min_value=0, max_value=1_000_000, default=0)

    @extend_schema_serializer(deprecate_fields=["next_offset"])
    class OutputSerializer(serializers.Serializer):
        count = serializers.IntegerField(help_text="Live streams that pass the filters, as ranked for the first page.")
        next_cursor = serializers.CharField(allow_null=True, help_text="`cursor` of the next page; null on the last.")
        next_offset = serializers.IntegerField(allow_null=True, help_text="Deprecated: page with `next_cursor`.")
        results = ActiveStreamSerializer(many=True)

    @extend_schema(
        parameters=[
            OpenApiParameter("category", str),
            OpenApiParameter("following", bool, description="Only hosts I follow."),
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 100}, default=20),
            OpenApiParameter(
                "offset",
                {"type": "integer", "minimum": 0, "maximum": 1_000_000},
                deprecated=True,
                description="Deprecated: follow `next_cursor` instead (an offset ranks afresh on every page, so "
                "streams can repeat or be skipped as counts change). Ignored with `cursor`.",
            ),
            OpenApiParameter(
                "cursor",
                str,
                description="`next_cursor` of the previous page. The pages of one list follow the ranking as it "
                "was at its first page (no stream twice, none left out) for 10 minutes; 400 invalid_cursor after.",
            ),
        ],
        responses={200: OutputSerializer},
        operation_id="streams_active",
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        page = selectors.stream_list_live(
            viewer=request_user(request),
            category=f["category"],
            following=f["following"],
            limit=f["limit"],
            cursor=f["cursor"] or None,
            offset=f["offset"],
        )
        response = Response(
            {
                "count": page.count,
                "next_cursor": page.next_cursor,
                "next_offset": page.next_offset,
                "results": page.results,
            }
        )
        if "offset" in request.query_params:
            mark_deprecated(response, since=OFFSET_DEPRECATED_SINCE)
        return response


class TrendingStreamSerializer(ActiveStreamSerializer):
    trending_score = serializers.FloatField(help_text="The score the list is ordered by (higher first).")


class StreamListTrendingApi(APIView):
    """Live streams trending now, for me: current viewers, coins gifted in the last minutes and how
    recently the stream started, rescored every half minute, then raised for hosts I follow and hosts
    followed by people I follow. Ended streams, streams held back by moderation and hosts blocked
    either way are left out (README "Trending")."""

    class FilterSerializer(StrictInputSerializer):
        limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)
        cursor = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")

    class OutputSerializer(serializers.Serializer):
        count = serializers.IntegerField(help_text="Streams in the list, as ranked for its first page.")
        next_cursor = serializers.CharField(allow_null=True, help_text="`cursor` of the next page; null on the last.")
        results = TrendingStreamSerializer(many=True)

    @extend_schema(
        parameters=[
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 100}, default=20),
            OpenApiParameter(
                "cursor",
                str,
                description="`next_cursor` of the previous page: the pages follow the ranking of the first page "
                "for 10 minutes; 400 invalid_cursor after.",
            ),
        ],
        responses={200: OutputSerializer},
        operation_id="streams_trending",
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        page = selectors.stream_list_trending(
            viewer=request_user(request), limit=f["limit"], cursor=f["cursor"] or None
        )
        return Response({"count": page.count, "next_cursor": page.next_cursor, "results": page.results})


class StreamDetailApi(APIView):
    class OutputSerializer(StreamSerializer):
        linkcast = serializers.DictField(allow_null=True)
        ws_url = serializers.CharField()

    @extend_schema(responses={200: OutputSerializer}, operation_id="streams_detail")
    def get(self, request: Request, stream_id: int) -> Response:
        stream = selectors.stream_with_gift_totals(selectors.stream_get(stream_id=stream_id))
        linkcast = selectors.linkcast_open_for_stream(stream_id=stream.pk)
        body = dict(StreamSerializer(stream, context={"request": request}).data)
        body["linkcast"] = selectors.linkcast_public(linkcast) if linkcast else None
        body["ws_url"] = ws_url(request, stream.pk)
        return Response(body)


class StreamEndApi(APIView):
    @extend_schema(request=None, responses={200: StreamSerializer}, operation_id="streams_end")
    def post(self, request: Request, stream_id: int) -> Response:
        stream = services.stream_end_by_host(stream_id=stream_id, user=request_user(request))
        stream = selectors.stream_with_gift_totals(selectors.stream_get(stream_id=stream.pk))
        return Response(StreamSerializer(stream, context={"request": request}).data)


class StreamHeartbeatApi(APIView):
    class OutputSerializer(serializers.Serializer):
        status = serializers.CharField()
        last_heartbeat_at = serializers.DateTimeField()
        heartbeat_seconds = serializers.IntegerField()

    @extend_schema(request=None, responses={200: OutputSerializer}, operation_id="streams_heartbeat")
    def post(self, request: Request, stream_id: int) -> Response:
        stream = services.stream_heartbeat(stream_id=stream_id, user=request_user(request))
        return Response(
            {
                "status": stream.status,
                "last_heartbeat_at": stream.last_heartbeat_at,
                "heartbeat_seconds": settings.LIVE_HEARTBEAT_SECONDS,
            }
        )


class StreamJoinApi(APIView):
    @extend_schema(request=None, responses={200: StreamSessionSerializer}, operation_id="streams_join")
    def post(self, request: Request, stream_id: int) -> Response:
        stream = services.stream_viewer_join(stream_id=stream_id, user=request_user(request))
        return Response(_session(request, stream))


class StreamLeaveApi(APIView):
    @extend_schema(request=None, responses={204: None}, operation_id="streams_leave")
    def post(self, request: Request, stream_id: int) -> Response:
        services.stream_viewer_leave(stream_id=stream_id, user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class StreamTokenApi(APIView):
    """Fresh Agora tokens (call before the old ones expire); 503 agora_not_configured without credentials."""

    @extend_schema(request=None, responses={200: TokensSerializer}, operation_id="streams_token")
    def post(self, request: Request, stream_id: int) -> Response:
        stream = selectors.stream_get(stream_id=stream_id)
        return Response(services.stream_tokens_issue(stream=stream, user=request_user(request)))


# --- LinkCast ------------------------------------------------------------------------------------


class LinkCastSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=LinkCast.Status.choices)
    channel = serializers.CharField(allow_null=True)
    hosts = serializers.ListField(child=serializers.DictField())


def _linkcast_body(linkcast: LinkCast) -> dict[str, Any]:
    return selectors.linkcast_public(linkcast)


class LinkCastInviteApi(APIView):
    class InputSerializer(StrictInputSerializer):
        guest_stream_id = IdField()

    @extend_schema(request=InputSerializer, responses={201: LinkCastSerializer}, operation_id="linkcast_invite")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        linkcast = services.linkcast_invite(user=request_user(request), **data.validated_data)
        return Response(_linkcast_body(linkcast), status=status.HTTP_201_CREATED)


class LinkCastDetailApi(APIView):
    @extend_schema(responses={200: LinkCastSerializer}, operation_id="linkcast_detail")
    def get(self, request: Request, linkcast_id: int) -> Response:
        return Response(_linkcast_body(selectors.linkcast_get(linkcast_id=linkcast_id)))


class LinkCastAcceptApi(APIView):
    class OutputSerializer(serializers.Serializer):
        linkcast = LinkCastSerializer()
        agora = AgoraTokenSerializer(allow_null=True)

    @extend_schema(request=None, responses={200: OutputSerializer}, operation_id="linkcast_accept")
    def post(self, request: Request, linkcast_id: int) -> Response:
        user = request_user(request)
        linkcast = services.linkcast_accept(linkcast_id=linkcast_id, user=user)
        token = services.linkcast_token_issue(linkcast_id=linkcast.pk, user=user) if agora_configured() else None
        return Response({"linkcast": _linkcast_body(linkcast), "agora": token})


class LinkCastDeclineApi(APIView):
    @extend_schema(request=None, responses={200: LinkCastSerializer}, operation_id="linkcast_decline")
    def post(self, request: Request, linkcast_id: int) -> Response:
        return Response(_linkcast_body(services.linkcast_decline(linkcast_id=linkcast_id, user=request_user(request))))


class LinkCastLeaveApi(APIView):
    @extend_schema(request=None, responses={200: LinkCastSerializer}, operation_id="linkcast_leave")
    def post(self, request: Request, linkcast_id: int) -> Response:
        return Response(_linkcast_body(services.linkcast_leave(linkcast_id=linkcast_id, user=request_user(request))))


class LinkCastAudioApi(APIView):
    class InputSerializer(StrictInputSerializer):
        user_id = IdField(required=False, help_text="Default: yourself.")
        muted = serializers.BooleanField()

    @extend_schema(request=InputSerializer, responses={200: LinkCastSerializer}, operation_id="linkcast_audio")
    def post(self, request: Request, linkcast_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request_user(request)
        linkcast = services.linkcast_audio_set(
            linkcast_id=linkcast_id,
            user=user,
            target_user_id=data.validated_data.get("user_id", user.pk),
            muted=data.validated_data["muted"],
        )
        return Response(_linkcast_body(linkcast))


class LinkCastTokenApi(APIView):
    @extend_schema(request=None, responses={200: AgoraTokenSerializer}, operation_id="linkcast_token")
    def post(self, request: Request, linkcast_id: int) -> Response:
        return Response(services.linkcast_token_issue(linkcast_id=linkcast_id, user=request_user(request)))


class PkSideSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["host", "guest"])
    user_id = serializers.IntegerField()
    stream_id = serializers.IntegerField()
    coins = serializers.IntegerField()


class PkBattleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    linkcast_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=PkBattle.Status.choices)
    duration_seconds = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    sides = PkSideSerializer(many=True)
    winner_id = serializers.IntegerField(allow_null=True, help_text="null: a draw, cancelled or still running.")


class LinkCastPkApi(APIView):
    """Start a PK battle (either host of an active LinkCast), or read the current or last one."""

    class InputSerializer(StrictInputSerializer):
        duration_seconds = serializers.IntegerField(
            required=False, help_text="One of LIVE_PK_DURATION_CHOICES (default LIVE_PK_DEFAULT_SECONDS)."
        )

    class OutputSerializer(serializers.Serializer):
        battle = PkBattleSerializer(allow_null=True)

    @extend_schema(request=InputSerializer, responses={201: PkBattleSerializer}, operation_id="linkcast_pk_start")
    def post(self, request: Request, linkcast_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        battle = services.pk_start(linkcast_id=linkcast_id, host=request_user(request), **data.validated_data)
        return Response(services.pk_public(battle, totals=(0, 0)), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: OutputSerializer}, operation_id="linkcast_pk_current")
    def get(self, request: Request, linkcast_id: int) -> Response:
        selectors.linkcast_get(linkcast_id=linkcast_id)  # 404 for no such LinkCast
        return Response({"battle": services.pk_current(linkcast_id=linkcast_id)})


@extend_schema_view(get=extend_schema(exclude=True))
class StreamListActiveDeprecatedApi(DeprecatedApiMixin, StreamListActiveApi):
    """The same list at the old slash-less `active`: kept working, out of the schema, deprecated."""

    deprecated_since = datetime(2026, 12, 6, tzinfo=UTC)
    successor_url_name = "stream-active"


class RoomModeratorSerializer(serializers.Serializer):
    user = UserBriefSerializer(source="moderator")
    created_at = serializers.DateTimeField()


class RoomModeratorListCreateApi(APIView):
    """The signed-in host's room moderators: they may mute, kick, pin and delete chat in all of the
    host's rooms. At most LIVE_ROOM_MODERATORS_MAX (`room_moderator_limit`, 409)."""

    pagination_class = FeedCursorPagination  # GET; the POST answers one appointment

    class InputSerializer(StrictInputSerializer):
        user_id = IdField()

    @extend_schema(responses={200: RoomModeratorSerializer(many=True)}, operation_id="room_moderator_list")
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        moderators = selectors.room_moderator_list(host_id=request_user(request).pk)
        page = paginator.paginate_queryset(moderators, request, view=self)
        return paginator.get_paginated_response(
            RoomModeratorSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(
        request=InputSerializer,
        responses={201: RoomModeratorSerializer, 200: RoomModeratorSerializer},
        operation_id="room_moderator_add",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        appointment, created = services.room_moderator_add(
            host=request_user(request), user_id=data.validated_data["user_id"]
        )
        return Response(
            RoomModeratorSerializer(appointment, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class RoomModeratorRemoveApi(APIView):
    @extend_schema(request=None, responses={204: None}, operation_id="room_moderator_remove")
    def delete(self, request: Request, user_id: int) -> Response:
        services.room_moderator_remove(host=request_user(request), user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Scheduled streams ----------------------------------------------------------------------------


class ScheduleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    host = UserBriefSerializer()
    title = serializers.CharField()
    category = serializers.CharField(source="category_slug", help_text=CATEGORY_HELP)
    category_name = CategoryNameField()
    starts_at = serializers.DateTimeField()
    status = serializers.SerializerMethodField(help_text="upcoming, started, missed (never went live) or cancelled.")
    stream_id = serializers.IntegerField(allow_null=True, help_text="The stream that started it, once live.")
    subscribers_count = serializers.IntegerField()
    subscribed = serializers.BooleanField(help_text="Whether the signed-in user asked to be reminded.")

    def get_status(self, schedule: ScheduledStream) -> str:
        return schedule.status_at(self.context["now"])


class ScheduleInputSerializer(StrictInputSerializer):
    title = serializers.CharField(max_length=120)
    category = serializers.RegexField(r"^[A-Za-z0-9 _-]{0,40}$", required=False, allow_blank=True, default="")
    starts_at = serializers.DateTimeField(help_text="With a time zone offset; at least 5 minutes ahead.")


class UpcomingSchedulePagination(FeedCursorPagination):
    ordering = "starts_at"


class MySchedulePagination(FeedCursorPagination):
    ordering = "-starts_at"


def _schedule_page(request: Request, view: APIView, schedules: Any, paginator: FeedCursorPagination) -> Response:
    page = paginator.paginate_queryset(schedules, request, view=view)
    context = {"request": request, "now": timezone.now()}
    return paginator.get_paginated_response(ScheduleSerializer(page, many=True, context=context).data)


def _schedule_answer(request: Request, schedule_id: int, code: int = status.HTTP_200_OK) -> Response:
    schedule = selectors.schedule_get(schedule_id=schedule_id, viewer=request_user(request))
    return Response(ScheduleSerializer(schedule, context={"request": request, "now": timezone.now()}).data, status=code)


class ScheduleListCreateApi(APIView):
    """Scheduled streams still to start (soonest first) of one host or of the hosts I follow; a host
    announces one with POST (followers may then subscribe to a reminder)."""

    pagination_class = UpcomingSchedulePagination  # GET; the POST answers one schedule

    class FilterSerializer(StrictInputSerializer):
        host = serializers.CharField(required=False, max_length=150, help_text="A host's username.")
        following = serializers.BooleanField(required=False, default=False)
        cursor = serializers.CharField(required=False, allow_blank=True, max_length=200)
        page_size = serializers.IntegerField(required=False, min_value=1, max_value=100)

    @extend_schema(
        parameters=[
            OpenApiParameter("host", str, description="Only this host's (username)."),
            OpenApiParameter("following", bool, description="Only hosts I follow."),
        ],
        responses={200: ScheduleSerializer(many=True)},
        operation_id="schedule_list",
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        viewer = request_user(request)
        host_id = None
        if "host" in filters.validated_data:
            host_id = user_get_visible(username=filters.validated_data["host"], viewer=viewer).pk
        schedules = selectors.schedule_list_upcoming(
            viewer=viewer, host_id=host_id, following=filters.validated_data["following"]
        )
        return _schedule_page(request, self, schedules, self.pagination_class())

    @extend_schema(request=ScheduleInputSerializer, responses={201: ScheduleSerializer}, operation_id="schedule_create")
    def post(self, request: Request) -> Response:
        data = ScheduleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        schedule = services.schedule_create(host=request_user(request), **data.validated_data)
        return _schedule_answer(request, schedule.pk, status.HTTP_201_CREATED)


class ScheduleMineApi(APIView):
    """All of my scheduled streams, latest start first: upcoming, started, missed (I never went
    live by the no-show time) and cancelled."""

    pagination_class = MySchedulePagination

    @extend_schema(responses={200: ScheduleSerializer(many=True)}, operation_id="schedule_list_mine")
    def get(self, request: Request) -> Response:
        schedules = selectors.schedule_list_mine(host=request_user(request))
        return _schedule_page(request, self, schedules, self.pagination_class())


class ScheduleDetailApi(APIView):
    class UpdateSerializer(ScheduleInputSerializer):
        title = serializers.CharField(max_length=120, required=False)
        starts_at = serializers.DateTimeField(required=False, help_text="A new start time is reminded of afresh.")
        category = serializers.RegexField(r"^[A-Za-z0-9 _-]{0,40}$", required=False, allow_blank=True)

    @extend_schema(responses={200: ScheduleSerializer}, operation_id="schedule_detail")
    def get(self, request: Request, schedule_id: int) -> Response:
        return _schedule_answer(request, schedule_id)

    @extend_schema(request=UpdateSerializer, responses={200: ScheduleSerializer}, operation_id="schedule_update")
    def patch(self, request: Request, schedule_id: int) -> Response:
        data = self.UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.schedule_update(host=request_user(request), schedule_id=schedule_id, **data.validated_data)
        return _schedule_answer(request, schedule_id)

    @extend_schema(request=None, responses={200: ScheduleSerializer}, operation_id="schedule_cancel")
    def delete(self, request: Request, schedule_id: int) -> Response:
        services.schedule_cancel(host=request_user(request), schedule_id=schedule_id)
        return _schedule_answer(request, schedule_id)


class ScheduleSubscriptionApi(APIView):
    """Be reminded shortly before a scheduled stream starts (PUT), or not any more (DELETE)."""

    @extend_schema(
        request=None, responses={201: ScheduleSerializer, 200: ScheduleSerializer}, operation_id="schedule_subscribe"
    )
    def put(self, request: Request, schedule_id: int) -> Response:
        _, created = services.schedule_subscribe(user=request_user(request), schedule_id=schedule_id)
        return _schedule_answer(request, schedule_id, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=None, responses={204: None}, operation_id="schedule_unsubscribe")
    def delete(self, request: Request, schedule_id: int) -> Response:
        services.schedule_unsubscribe(user=request_user(request), schedule_id=schedule_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Categories -----------------------------------------------------------------------------------


class CategoryListApi(APIView):
    """The stream categories a host can pick, in the apps' order: the whole catalogue (a dozen or
    so entries, managed in the admin), names in the request's language. Send the `slug` as a
    stream's or a schedule's `category`."""

    class OutputSerializer(serializers.Serializer):
        slug = serializers.CharField()
        name = serializers.CharField(help_text="In the request's language (Accept-Language or the saved one).")
        name_en = serializers.CharField()
        name_ne = serializers.CharField()
        icon = serializers.CharField(help_text="An emoji, or empty.")

    @extend_schema(responses={200: OutputSerializer(many=True)}, operation_id="categories_list")
    def get(self, request: Request) -> Response:
        return Response(
            [
                {"slug": c.slug, "name": c.name(), "name_en": c.name_en, "name_ne": c.name_ne, "icon": c.icon}
                for c in selectors.category_list_active()
            ]
        )
