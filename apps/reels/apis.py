from django.conf import settings
from django.http import HttpResponseRedirect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from apps.accounts.authentication import request_user
from apps.core.pagination import FeedCursorPagination
from apps.core.parsers import MultiPartParser
from apps.core.serializers import StrictInputSerializer
from apps.core.uploads import limit_upload_size
from apps.moderation.types import ReportReason
from apps.reels import selectors, services
from apps.reels.exceptions import VideoTooLarge
from apps.reels.media import ranged_file_response
from apps.reels.models import Reel


class AuthorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField(source="name")


class ReelSerializer(serializers.Serializer):
    """A reel as its viewers see it; `liked` needs context["liked_ids"] (one query per page)."""

    id = serializers.IntegerField()
    author = AuthorSerializer()
    caption = serializers.CharField()
    status = serializers.CharField()
    rejection_reason = serializers.CharField()
    video_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    duration_seconds = serializers.FloatField(allow_null=True)
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    views_count = serializers.IntegerField()
    likes_count = serializers.IntegerField()
    comments_count = serializers.IntegerField()
    shares_count = serializers.IntegerField()
    liked = serializers.SerializerMethodField()
    hashtags = serializers.SerializerMethodField(help_text="The caption's hashtags, normalised, without `#`.")
    created_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)

    def get_video_url(self, reel: Reel) -> str:
        return reverse("reel-video", kwargs={"reel_id": reel.pk}, request=self.context.get("request"))

    def get_thumbnail_url(self, reel: Reel) -> str | None:
        if not reel.thumbnail:
            return None
        url = reel.thumbnail.url
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None and url.startswith("/") else url

    def get_liked(self, reel: Reel) -> bool:
        return reel.pk in self.context.get("liked_ids", ())

    def get_hashtags(self, reel: Reel) -> list[str]:
        return self.context.get("hashtags", {}).get(reel.pk, [])


def _reel_body(request: Request, reels: list[Reel]) -> list[dict]:
    liked = selectors.liked_reel_ids(user=request_user(request), reel_ids=[reel.pk for reel in reels])
    context = {"request": request, "liked_ids": liked, "hashtags": selectors.reel_hashtags(reels=reels)}
    # many=True builds a ListSerializer, whose data is a list; the stubs type the call as the Serializer.
    return ReelSerializer(reels, many=True, context=context).data  # type: ignore[return-value]


class ReelUploadApi(APIView):
    """Upload a short video (multipart: `video`, optional `caption`). Answers 202: poll the reel."""

    parser_classes = [MultiPartParser]

    class InputSerializer(StrictInputSerializer):
        video = serializers.FileField(allow_empty_file=False)
        caption = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")

    @extend_schema(
        request={"multipart/form-data": InputSerializer},
        responses={202: ReelSerializer},
        operation_id="reel_upload",
    )
    def post(self, request: Request) -> Response:
        # Before anything reads the body: an oversize upload is refused while it arrives.
        limit_upload_size(request._request, max_bytes=settings.REELS_MAX_UPLOAD_BYTES, too_large=VideoTooLarge)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reel = services.reel_upload(
            author=request_user(request), upload=data.validated_data["video"], caption=data.validated_data["caption"]
        )
        reel.refresh_from_db()
        return Response(_reel_body(request, [reel])[0], status=status.HTTP_202_ACCEPTED)


class ReelMineApi(APIView):
    """The signed-in user's reels in every state (processing, published, rejected), newest first."""

    pagination_class = FeedCursorPagination

    @extend_schema(responses={200: ReelSerializer(many=True)}, operation_id="reel_list_mine")
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        qs = selectors.reel_list_mine(user=request_user(request))
        page = paginator.paginate_queryset(qs, request, view=self) or []
        return paginator.get_paginated_response(_reel_body(request, page))


class ReelByAuthorApi(APIView):
    """A user's published reels (empty when either blocked the other), newest first."""

    pagination_class = FeedCursorPagination

    @extend_schema(responses={200: ReelSerializer(many=True)}, operation_id="reel_list_by_author")
    def get(self, request: Request, user_id: int) -> Response:
        paginator = self.pagination_class()
        qs = selectors.reel_list_by_author(author_id=user_id, viewer=request_user(request))
        page = paginator.paginate_queryset(qs, request, view=self) or []
        return paginator.get_paginated_response(_reel_body(request, page))


class ReelFeedApi(APIView):
    """The feed: recent reels of people you follow first, then fresh and engaging ones."""

    class FilterSerializer(StrictInputSerializer):
        cursor = serializers.CharField(required=False, max_length=500)
        page_size = serializers.IntegerField(required=False, min_value=1, max_value=50, default=10)

    class OutputSerializer(serializers.Serializer):
        next = serializers.URLField(allow_null=True)
        results = ReelSerializer(many=True)

    @extend_schema(parameters=[FilterSerializer], responses={200: OutputSerializer}, operation_id="reel_feed")
    def get(self, request: Request) -> Response:
        params = self.FilterSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        token = params.validated_data.get("cursor")
        cursor = selectors.FeedCursor.decode(token) if token else None
        page = selectors.reel_feed(viewer=request_user(request), cursor=cursor, size=params.validated_data["page_size"])
        next_url = None
        if page.next_cursor is not None:
            base = request.build_absolute_uri(request.path)
            next_url = f"{base}?cursor={page.next_cursor.encode()}&page_size={params.validated_data['page_size']}"
        return Response({"next": next_url, "results": _reel_body(request, page.reels)})


class ReelTrendingApi(APIView):
    """Reels trending now: likes and comments of the last two days, views, and a decay with age,
    rescored every few minutes (README "Trending"). Removed reels and authors blocked either way
    are left out."""

    class FilterSerializer(StrictInputSerializer):
        cursor = serializers.CharField(required=False, max_length=500)
        page_size = serializers.IntegerField(required=False, min_value=1, max_value=50, default=10)

    class OutputSerializer(serializers.Serializer):
        next = serializers.URLField(allow_null=True)
        results = ReelSerializer(many=True)

    @extend_schema(parameters=[FilterSerializer], responses={200: OutputSerializer}, operation_id="reel_trending")
    def get(self, request: Request) -> Response:
        params = self.FilterSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        size = params.validated_data["page_size"]
        page = selectors.reel_list_trending(
            viewer=request_user(request), size=size, cursor=params.validated_data.get("cursor")
        )
        next_url = None
        if page.next_cursor is not None:
            next_url = f"{request.build_absolute_uri(request.path)}?cursor={page.next_cursor}&page_size={size}"
        return Response({"next": next_url, "results": _reel_body(request, page.reels)})


class HashtagApi(APIView):
    """A hashtag (as typed, with or without `#`, any case) and how many reels I can see carry it."""

    class OutputSerializer(serializers.Serializer):
        tag = serializers.CharField(help_text="Normalised: lowercase, without `#`.")
        reels_count = serializers.IntegerField()

    @extend_schema(responses={200: OutputSerializer}, operation_id="reel_hashtag")
    def get(self, request: Request, tag: str) -> Response:
        summary = selectors.hashtag_get(tag=tag, viewer=request_user(request))
        return Response({"tag": summary.tag, "reels_count": summary.reels_count})


class HashtagReelsApi(APIView):
    """Published reels carrying a hashtag, newest first (404 hashtag_not_found for a tag no reel used)."""

    pagination_class = FeedCursorPagination

    @extend_schema(responses={200: ReelSerializer(many=True)}, operation_id="reel_list_by_hashtag")
    def get(self, request: Request, tag: str) -> Response:
        paginator = self.pagination_class()
        qs = selectors.reel_list_by_hashtag(tag=tag, viewer=request_user(request))
        page = paginator.paginate_queryset(qs, request, view=self) or []
        return paginator.get_paginated_response(_reel_body(request, page))


class ReelDetailApi(APIView):
    class UpdateSerializer(StrictInputSerializer):
        caption = serializers.CharField(max_length=300, allow_blank=True)

    @extend_schema(responses={200: ReelSerializer}, operation_id="reel_get")
    def get(self, request: Request, reel_id: int) -> Response:
        reel = selectors.reel_get_visible(reel_id=reel_id, viewer=request_user(request))
        return Response(_reel_body(request, [reel])[0])

    @extend_schema(request=UpdateSerializer, responses={200: ReelSerializer}, operation_id="reel_update")
    def patch(self, request: Request, reel_id: int) -> Response:
        """Rewrite my reel's caption; its hashtags follow the new text."""
        data = self.UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reel = services.reel_caption_update(
            reel_id=reel_id, user=request_user(request), caption=data.validated_data["caption"]
        )
        return Response(_reel_body(request, [reel])[0])

    @extend_schema(responses={204: None}, operation_id="reel_delete")
    def delete(self, request: Request, reel_id: int) -> Response:
        services.reel_delete(reel_id=reel_id, user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnyAcceptNegotiation(BaseContentNegotiation):
    """Video players send Accept headers like `video/*`: the body is the file whatever they ask."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ReelVideoApi(APIView):
    """The video file, honouring `Range` (206 partial content) so players can seek and resume."""

    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(
        responses={
            (200, "video/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The video file."),
            (206, "video/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The range asked in `Range`."),
            302: OpenApiResponse(
                description="With media in an object store (REELS_VIDEO_REDIRECT): a short-lived signed URL of "
                "the file in `Location`; the player follows it (and seeks there with `Range`)."
            ),
            416: OpenApiResponse(description="Range not satisfiable"),
        },
        parameters=[OpenApiParameter("Range", str, OpenApiParameter.HEADER, description="bytes=start-end")],
        operation_id="reel_video",
    )
    def get(self, request: Request, reel_id: int):
        reel = selectors.reel_get_visible(reel_id=reel_id, viewer=request_user(request))
        if settings.REELS_VIDEO_REDIRECT:
            return HttpResponseRedirect(reel.video.url)
        return ranged_file_response(
            request._request, field_file=reel.video, content_type=reel.content_type, etag=f'"reel-{reel.pk}"'
        )


class ReelLikeApi(APIView):
    class OutputSerializer(serializers.Serializer):
        liked = serializers.BooleanField()
        likes_count = serializers.IntegerField()

    @extend_schema(request=None, responses={200: OutputSerializer}, operation_id="reel_like")
    def post(self, request: Request, reel_id: int) -> Response:
        reel = services.reel_like(reel_id=reel_id, user=request_user(request))
        return Response({"liked": True, "likes_count": reel.likes_count})

    @extend_schema(responses={200: OutputSerializer}, operation_id="reel_unlike")
    def delete(self, request: Request, reel_id: int) -> Response:
        reel = services.reel_unlike(reel_id=reel_id, user=request_user(request))
        return Response({"liked": False, "likes_count": reel.likes_count})


class CommentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    author = AuthorSerializer()
    text = serializers.CharField()
    created_at = serializers.DateTimeField()


class ReelCommentListCreateApi(APIView):
    pagination_class = FeedCursorPagination  # GET; the POST answers one comment

    class InputSerializer(StrictInputSerializer):
        text = serializers.CharField(max_length=500, trim_whitespace=True)

    @extend_schema(responses={200: CommentSerializer(many=True)}, operation_id="reel_comment_list")
    def get(self, request: Request, reel_id: int) -> Response:
        viewer = request_user(request)
        reel = selectors.reel_get_visible(reel_id=reel_id, viewer=viewer)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.comment_list(reel=reel, viewer=viewer), request, view=self)
        return paginator.get_paginated_response(CommentSerializer(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: CommentSerializer}, operation_id="reel_comment_create")
    def post(self, request: Request, reel_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request_user(request)
        comment = services.reel_comment_create(reel_id=reel_id, user=user, text=data.validated_data["text"])
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class ReelCommentDeleteApi(APIView):
    @extend_schema(responses={204: None}, operation_id="reel_comment_delete")
    def delete(self, request: Request, comment_id: int) -> Response:
        services.reel_comment_delete(comment_id=comment_id, user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReelViewApi(APIView):
    class OutputSerializer(serializers.Serializer):
        counted = serializers.BooleanField(help_text="False for a repeat view within the dedupe window.")

    @extend_schema(request=None, responses={200: OutputSerializer}, operation_id="reel_view")
    def post(self, request: Request, reel_id: int) -> Response:
        return Response({"counted": services.reel_view(reel_id=reel_id, user=request_user(request))})


class ReelShareApi(APIView):
    """Count a share (the app builds the link and opens the share sheet itself)."""

    @extend_schema(request=None, responses={204: None}, operation_id="reel_share")
    def post(self, request: Request, reel_id: int) -> Response:
        services.reel_share(reel_id=reel_id, user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReelReportApi(APIView):
    """Report a reel to the moderators (repeating a report changes nothing: 200 with the first one)."""

    class InputSerializer(StrictInputSerializer):
        reason = serializers.ChoiceField(choices=ReportReason.choices)
        details = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        case = serializers.IntegerField(source="case_id")
        reason = serializers.CharField()
        created_at = serializers.DateTimeField()

    @extend_schema(
        request=InputSerializer, responses={201: OutputSerializer, 200: OutputSerializer}, operation_id="reel_report"
    )
    def post(self, request: Request, reel_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report, created = services.reel_report(reel_id=reel_id, reporter=request_user(request), **data.validated_data)
        return Response(
            self.OutputSerializer(report).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )
