import csv
import json
from collections.abc import Iterator, Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import (
    JwtStatelessAuthentication,
    request_cache_reads,
    request_user,
    request_user_id,
)
from apps.core.idempotency import HEADER, idempotency_key
from apps.core.serializers import IdField, StrictInputSerializer, output_data
from apps.gifts import selectors, services
from apps.gifts.leaderboards import Board, Period
from apps.gifts.models import GiftSend
from apps.gifts.services import QUANTITY_MAX
from apps.live.selectors import pk_marker_from_reads, pk_marker_key


class GiftSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    coin_price = serializers.IntegerField()
    icon_url = serializers.CharField()
    animation_url = serializers.CharField()
    category = serializers.CharField()
    og_only = serializers.BooleanField()
    order = serializers.IntegerField()


class GiftCatalogueApi(APIView):
    """The active gifts in tray order (cached; anyone may read it): a whole catalogue (small and fixed),
    answered as one array, not paginated."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={200: GiftSerializer(many=True)}, operation_id="gift_catalogue")
    def get(self, request: Request) -> Response:
        return Response([gift.as_dict() for gift in selectors.gift_catalogue()])


PEEK_MAX_BYTES = 1024  # a send's body is a few dozen bytes; a bigger one is left to DRF's parser alone


class GiftSendApi(APIView):
    """Send gifts. A retry with the same Idempotency-Key answers with the first send and pays nothing
    (the key is the send's ledger reference, so the ledger itself keeps it from paying twice)."""

    # One Redis round trip per send: the authentication reads the token's state, counts the send in
    # the user's throttle window and reads whether the stream is in a PK battle (`cache_reads`).
    authentication_classes = [JwtStatelessAuthentication]  # gift_send checks the account itself

    class InputSerializer(StrictInputSerializer):
        keep_fields = True  # plain fields: built once, not per send

        stream = IdField()
        gift = IdField()
        quantity = serializers.IntegerField(min_value=1, max_value=QUANTITY_MAX, default=1)
        confirm = serializers.BooleanField(
            default=False, help_text="Send again with true after a `confirmation_required` answer."
        )

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField(source="send.id")
        stream = serializers.IntegerField(source="send.stream_id")
        gift = serializers.IntegerField(source="send.gift_id")
        quantity = serializers.IntegerField(source="send.quantity")
        coins = serializers.IntegerField(source="send.coins")
        host_share = serializers.IntegerField(source="send.host_share")
        platform_share = serializers.IntegerField(source="send.platform_share")
        rate = serializers.IntegerField(source="send.rate")
        balance = serializers.IntegerField(help_text="Your coins after the send.")
        created_at = serializers.DateTimeField(source="send.created_at")

    @extend_schema(
        request=InputSerializer,
        responses={201: OutputSerializer},
        parameters=[OpenApiParameter(HEADER, str, OpenApiParameter.HEADER, required=True)],
        operation_id="gift_send",
        examples=[
            OpenApiExample("Three roses", value={"stream": 42, "gift": 1, "quantity": 3}, request_only=True),
            OpenApiExample(
                "Sent",
                value={
                    "id": 981,
                    "stream": 42,
                    "gift": 1,
                    "quantity": 3,
                    "coins": 30,
                    "host_share": 18,
                    "platform_share": 12,
                    "rate": 60,
                    "balance": 470,
                    "created_at": "2026-12-06T04:30:00Z",
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        key = idempotency_key(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sender_id = request_user_id(request)
        stream_id = data.validated_data["stream"]
        sent = services.gift_send(
            sender_id=sender_id,
            stream_id=stream_id,
            gift_id=data.validated_data["gift"],
            quantity=data.validated_data["quantity"],
            ref=services.gift_ref(sender_id=sender_id, idempotency_key=key),
            confirm=data.validated_data["confirm"],
            pk_marker=pk_marker_from_reads(stream_id=stream_id, reads=request_cache_reads(request)),
        )
        headers = {"Idempotent-Replayed": "true"} if sent.replayed else None
        return Response(output_data(self.OutputSerializer, sent), status=status.HTTP_201_CREATED, headers=headers)

    def cache_reads(self, request: Request) -> Sequence[str]:
        """The stream's PK marker, read with the token's state. The stream id is peeked from the raw
        JSON body (DRF's parse runs later and keeps its own errors); a body that does not say, or a
        guess that differs from the validated id, leaves the marker to be read after the send."""
        if request.content_type.split(";")[0].strip() != "application/json":
            return []
        try:
            if not 0 < int(request.META.get("CONTENT_LENGTH") or 0) <= PEEK_MAX_BYTES:
                return []
            stream_id = json.loads(request.body).get("stream")
        except (ValueError, AttributeError):
            return []
        if type(stream_id) is not int or not 0 < stream_id < 2**63:
            return []
        return [pk_marker_key(stream_id=stream_id)]


STATEMENT_COLUMNS = ["time", "sender", "gift", "quantity", "coins", "host_share", "platform_share", "rate_percent"]


class _Echo:
    def write(self, value: str) -> str:
        return value


class HostStatementApi(APIView):
    """CSV of every gift the signed-in host received between two local dates (inclusive)."""

    class FilterSerializer(StrictInputSerializer):
        # "from" is a keyword in Python: the field is named from_ and reads the "from" parameter.
        from_ = serializers.DateField(required=False)
        to = serializers.DateField(required=False)

        def to_internal_value(self, data):
            data = {("from_" if k == "from" else k): v for k, v in data.items()}
            return super().to_internal_value(data)

        def validate(self, attrs):
            today = timezone.localdate()
            attrs.setdefault("to", today)
            attrs.setdefault("from_", attrs["to"] - timedelta(days=30))
            if attrs["from_"] > attrs["to"]:
                raise serializers.ValidationError({"from": [gettext_lazy("Must not be after 'to'.")]})
            if (attrs["to"] - attrs["from_"]).days > 366:
                raise serializers.ValidationError({"from": [gettext_lazy("A statement covers at most one year.")]})
            return attrs

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day (default: 30 days before 'to')"),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, inclusive (default: today)"),
        ],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV statement")},
        operation_id="gift_host_statement",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        params = self.FilterSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        tz = ZoneInfo(settings.TIME_ZONE)
        first, last = params.validated_data["from_"], params.validated_data["to"]
        start = datetime.combine(first, time.min, tzinfo=tz)
        end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)
        sends = selectors.host_statement(host=request_user(request), start=start, end=end)
        response = StreamingHttpResponse(self._rows(sends, tz), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="halobuzz-gifts-{first}-to-{last}.csv"'
        return response

    @staticmethod
    def _rows(sends, tz: ZoneInfo) -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield writer.writerow(STATEMENT_COLUMNS)
        send: GiftSend
        for send in sends.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    send.created_at.astimezone(tz).isoformat(timespec="seconds"),
                    send.sender.username,
                    send.gift.name,
                    send.quantity,
                    send.coins,
                    send.host_share,
                    send.platform_share,
                    send.rate,
                ]
            )


class LeaderboardOutputSerializer(serializers.Serializer):
    class UserSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        display_name = serializers.CharField(source="name")

    rank = serializers.IntegerField()
    user = UserSerializer()
    coins = serializers.IntegerField()


class LeaderboardSerializer(serializers.Serializer):
    period = serializers.CharField()
    results = LeaderboardOutputSerializer(many=True)


class LeaderboardFilterSerializer(StrictInputSerializer):
    period = serializers.ChoiceField(choices=[p.value for p in Period], default=Period.DAY.value)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class _LeaderboardApi(APIView):
    board: Board

    def leaderboard(self, request: Request, stream_id: int | None = None) -> Response:
        params = LeaderboardFilterSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        period = Period.ALL if self.board == Board.STREAM else Period(params.validated_data["period"])
        rows = selectors.leaderboard_top(
            board=self.board, period=period, stream_id=stream_id, limit=params.validated_data["limit"]
        )
        return Response({"period": period.value, "results": LeaderboardOutputSerializer(rows, many=True).data})


_LEADERBOARD_PARAMS = [
    OpenApiParameter("period", str, enum=[p.value for p in Period], description="day (default), week or all"),
    OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 100}, default=20),
]


class TopGiftersApi(_LeaderboardApi):
    """Senders by coins spent on gifts today, this week or all time."""

    board = Board.GIFTERS

    @extend_schema(
        parameters=_LEADERBOARD_PARAMS, responses={200: LeaderboardSerializer}, operation_id="gift_leaderboard_gifters"
    )
    def get(self, request: Request) -> Response:
        return self.leaderboard(request)


class TopHostsApi(_LeaderboardApi):
    """Hosts by coins earned (their share) today, this week or all time."""

    board = Board.HOSTS

    @extend_schema(
        parameters=_LEADERBOARD_PARAMS, responses={200: LeaderboardSerializer}, operation_id="gift_leaderboard_hosts"
    )
    def get(self, request: Request) -> Response:
        return self.leaderboard(request)


class StreamTopGiftersApi(_LeaderboardApi):
    """Senders to one stream by coins spent."""

    board = Board.STREAM

    @extend_schema(
        parameters=[OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 100}, default=20)],
        responses={200: LeaderboardSerializer},
        operation_id="gift_leaderboard_stream",
    )
    def get(self, request: Request, stream_id: int) -> Response:
        return self.leaderboard(request, stream_id=stream_id)
