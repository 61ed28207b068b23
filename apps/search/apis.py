"""Search users, live streams and reels, in Devanagari or romanised Nepali (apps.core.search).

Each app searches its own rows (apps.accounts.search, apps.live.search, apps.reels.search); these
views check the query, page the ranked rows (SearchCursorPagination) and shape them.
"""

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from apps.accounts.authentication import request_user
from apps.accounts.models import User
from apps.accounts.search import user_search, user_search_table
from apps.core.pagination import SearchCursorPagination
from apps.core.search import QUERY_MAX_LENGTH, QUERY_MIN_LENGTH, SearchTerms, search_bare_counts, search_terms
from apps.core.serializers import StrictInputSerializer
from apps.core.throttling import ScopedRateThrottle, UserRateThrottle
from apps.live.search import stream_search, stream_search_table
from apps.live.selectors import category_name
from apps.reels.search import reel_search, reel_search_table

TOP_SIZE = 5  # rows of each kind in the combined answer; the per-kind lists page on from there


def _url(request: Request, file: Any) -> str | None:
    if not file:
        return None
    url = file.url
    return request.build_absolute_uri(url) if url.startswith("/") else url


class UserHitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField(source="name")
    avatar = serializers.SerializerMethodField()

    def get_avatar(self, user: User) -> str | None:
        return _url(self.context["request"], user.avatar)


class HostSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField(source="name")


class StreamHitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    category = serializers.CharField(source="category_slug", help_text="The category's slug; empty for none.")
    category_name = serializers.SerializerMethodField(help_text="The category's name in the request's language.")
    cover = serializers.SerializerMethodField()
    host = HostSerializer()
    current_viewers = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)

    def get_cover(self, stream: Any) -> str | None:
        return _url(self.context["request"], stream.cover)

    def get_category_name(self, stream: Any) -> str:
        return category_name(stream.category_slug)


class ReelHitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    author = HostSerializer()
    caption = serializers.CharField()
    video_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    duration_seconds = serializers.FloatField(allow_null=True)
    views_count = serializers.IntegerField()
    likes_count = serializers.IntegerField()
    comments_count = serializers.IntegerField()
    published_at = serializers.DateTimeField(allow_null=True)

    def get_video_url(self, reel: Any) -> str:
        return reverse("reel-video", kwargs={"reel_id": reel.pk}, request=self.context["request"])

    def get_thumbnail_url(self, reel: Any) -> str | None:
        return _url(self.context["request"], reel.thumbnail)


class QuerySerializer(StrictInputSerializer):
    q = serializers.CharField(min_length=QUERY_MIN_LENGTH, max_length=QUERY_MAX_LENGTH)
    # Read by the paginator (a cursor it cannot read is a 404, a page_size out of range a 400).
    cursor = serializers.CharField(required=False, max_length=500)
    page_size = serializers.CharField(required=False, max_length=10)

    def validate_q(self, value: str) -> SearchTerms:
        terms = search_terms(value)
        if terms is None:
            raise serializers.ValidationError(gettext_lazy("Type some letters or digits to search for."))
        return terms


Q_PARAMETER = OpenApiParameter(
    "q",
    {"type": "string", "minLength": QUERY_MIN_LENGTH, "maxLength": QUERY_MAX_LENGTH},
    required=True,
    description="What to search for, in Devanagari or romanised Nepali (नमस्ते and namaste find each other).",
)


def _terms(request: Request) -> SearchTerms:
    params = QuerySerializer(data=request.query_params.dict())
    params.is_valid(raise_exception=True)
    terms: SearchTerms = params.validated_data["q"]
    return terms


class _SearchApi(APIView):
    throttle_classes = [UserRateThrottle, ScopedRateThrottle]
    throttle_scope = "search"
    pagination_class = SearchCursorPagination
    serializer_class: type[serializers.Serializer]

    def rows(self, *, viewer: User, terms: SearchTerms) -> QuerySet:
        raise NotImplementedError

    def get(self, request: Request) -> Response:
        terms = _terms(request)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(self.rows(viewer=request_user(request), terms=terms), request, view=self)
        body = self.serializer_class(page or [], many=True, context={"request": request}).data
        return paginator.get_paginated_response(body)


class SearchUsersApi(_SearchApi):
    serializer_class = UserHitSerializer

    def rows(self, *, viewer: User, terms: SearchTerms) -> QuerySet:
        return user_search(viewer=viewer, terms=terms)

    @extend_schema(
        parameters=[Q_PARAMETER],
        responses={200: UserHitSerializer(many=True)},
        operation_id="search_users",
        description="Users by username or display name, most relevant first (ties: most recently signed in).",
    )
    def get(self, request: Request) -> Response:
        return super().get(request)


class SearchStreamsApi(_SearchApi):
    serializer_class = StreamHitSerializer

    def rows(self, *, viewer: User, terms: SearchTerms) -> QuerySet:
        return stream_search(viewer=viewer, terms=terms)

    @extend_schema(
        parameters=[Q_PARAMETER],
        responses={200: StreamHitSerializer(many=True)},
        operation_id="search_streams",
        description="Live streams by title or host name, most relevant first (ties: most watched). "
        "Streams that ended are never listed.",
    )
    def get(self, request: Request) -> Response:
        return super().get(request)


class SearchReelsApi(_SearchApi):
    serializer_class = ReelHitSerializer

    def rows(self, *, viewer: User, terms: SearchTerms) -> QuerySet:
        return reel_search(viewer=viewer, terms=terms)

    @extend_schema(
        parameters=[Q_PARAMETER],
        responses={200: ReelHitSerializer(many=True)},
        operation_id="search_reels",
        description="Published reels by caption and #hashtags, most relevant first (ties: most liked).",
    )
    def get(self, request: Request) -> Response:
        return super().get(request)


class SearchTopApi(APIView):
    """The search screen's first answer: the best few of each kind in one round trip."""

    throttle_classes = [UserRateThrottle, ScopedRateThrottle]
    throttle_scope = "search"

    class TopQuerySerializer(StrictInputSerializer):
        q = serializers.CharField(min_length=QUERY_MIN_LENGTH, max_length=QUERY_MAX_LENGTH)

        def validate_q(self, value: str) -> SearchTerms:
            return QuerySerializer().validate_q(value)

    class OutputSerializer(serializers.Serializer):
        users = UserHitSerializer(many=True)
        streams = StreamHitSerializer(many=True)
        reels = ReelHitSerializer(many=True)

    @extend_schema(
        parameters=[Q_PARAMETER],
        responses={200: OutputSerializer},
        operation_id="search_top",
        description=f"The {TOP_SIZE} most relevant users, live streams and reels for `q`; page on through "
        "/search/users/, /search/streams/ and /search/reels/.",
    )
    def get(self, request: Request) -> Response:
        params = self.TopQuerySerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        terms: SearchTerms = params.validated_data["q"]
        viewer = request_user(request)
        ordering = SearchCursorPagination.ordering
        context = {"request": request}
        # the three searches' first counts in one round trip, not three
        users, streams, reels = search_bare_counts(
            terms, user_search_table(), stream_search_table(), reel_search_table()
        )
        return Response(
            {
                "users": UserHitSerializer(
                    user_search(viewer=viewer, terms=terms, bare=users).order_by(*ordering)[:TOP_SIZE],
                    many=True,
                    context=context,
                ).data,
                "streams": StreamHitSerializer(
                    stream_search(viewer=viewer, terms=terms, bare=streams).order_by(*ordering)[:TOP_SIZE],
                    many=True,
                    context=context,
                ).data,
                "reels": ReelHitSerializer(
                    reel_search(viewer=viewer, terms=terms, bare=reels).order_by(*ordering)[:TOP_SIZE],
                    many=True,
                    context=context,
                ).data,
            }
        )
