from django.conf import settings
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import JwtStatelessAuthentication, request_user, request_user_id
from apps.core.pagination import FeedCursorPagination
from apps.core.parsers import FormParser, MultiPartParser
from apps.core.schema import request_per_media_type
from apps.core.serializers import IdField, StrictInputSerializer
from apps.core.timestamps import iso_utc
from apps.core.uploads import limit_upload_size
from apps.moderation import selectors, services
from apps.moderation.exceptions import ImageTooLarge
from apps.moderation.explanations import enforcement_explanation
from apps.moderation.models import Case, Report


class FrameUploadApi(APIView):
    """A live host's app uploads a still of its stream every MODERATION_FRAME_INTERVAL_SECONDS."""

    parser_classes = [MultiPartParser, FormParser]
    # Every live host uploads every few seconds: the token alone is checked here (no user row), and
    # frame_submit checks the host's account in the stream's query. The web session still works.
    authentication_classes = [JwtStatelessAuthentication, SessionAuthentication]

    class InputSerializer(StrictInputSerializer):
        stream_id = IdField()
        image = serializers.FileField(help_text="JPEG, PNG or WebP")

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        stream_id = serializers.IntegerField()
        status = serializers.CharField()
        next_upload_in_seconds = serializers.IntegerField()

    @extend_schema(
        request=request_per_media_type(InputSerializer, "multipart/form-data", "application/x-www-form-urlencoded"),
        responses={202: OutputSerializer},
        operation_id="moderation_frame_upload",
    )
    def post(self, request: Request) -> Response:
        # Before anything reads the body: an oversize upload is refused while it arrives.
        limit_upload_size(request._request, max_bytes=settings.MODERATION_FRAME_MAX_BYTES, too_large=ImageTooLarge)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        frame = services.frame_submit(
            user_id=request_user_id(request),
            stream_id=data.validated_data["stream_id"],
            upload=data.validated_data["image"],
        )
        body = {
            "id": frame.pk,
            "stream_id": frame.stream_id,
            "status": frame.status,
            "next_upload_in_seconds": settings.MODERATION_FRAME_INTERVAL_SECONDS,
        }
        return Response(self.OutputSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class AgeCheckSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    outcome = serializers.CharField()
    estimated_age = serializers.FloatField()
    face_box = serializers.ListField(child=serializers.IntegerField())
    model_version = serializers.CharField()
    age_verification = serializers.CharField(source="user.age_verification")
    is_adult = serializers.BooleanField(source="user.is_adult")
    id_document_uploaded = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_id_document_uploaded(self, obj) -> bool:
        return bool(obj.id_document)


class AgeVerificationApi(APIView):
    """Submit a selfie: clearly adult is verified at once; possibly a minor waits for a moderator."""

    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(StrictInputSerializer):
        selfie = serializers.FileField(help_text="JPEG, PNG or WebP; one face, facing the camera")

    @extend_schema(
        request=request_per_media_type(InputSerializer, "multipart/form-data", "application/x-www-form-urlencoded"),
        responses={201: AgeCheckSerializer},
        operation_id="moderation_age_verification",
    )
    def post(self, request: Request) -> Response:
        limit_upload_size(request._request, max_bytes=settings.MODERATION_SELFIE_MAX_BYTES, too_large=ImageTooLarge)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        check = services.age_verification_submit(user=request_user(request), upload=data.validated_data["selfie"])
        return Response(AgeCheckSerializer(check).data, status=status.HTTP_201_CREATED)


class AgeIdDocumentApi(APIView):
    """An account held for age review uploads a photo of an ID document for the moderator."""

    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(StrictInputSerializer):
        document = serializers.FileField(help_text="A photo of the ID (JPEG, PNG or WebP)")

    @extend_schema(
        request=request_per_media_type(InputSerializer, "multipart/form-data", "application/x-www-form-urlencoded"),
        responses={200: AgeCheckSerializer},
        operation_id="moderation_age_id_document",
    )
    def post(self, request: Request) -> Response:
        limit_upload_size(request._request, max_bytes=settings.MODERATION_SELFIE_MAX_BYTES, too_large=ImageTooLarge)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        check = services.age_id_document_submit(user=request_user(request), upload=data.validated_data["document"])
        return Response(AgeCheckSerializer(check).data)


class ReportCreateApi(APIView):
    class InputSerializer(StrictInputSerializer):
        target_type = serializers.ChoiceField(
            choices=[
                Case.TargetType.STREAM,
                Case.TargetType.USER,
                Case.TargetType.REEL,
                Case.TargetType.CHAT_MESSAGE,
            ]
        )
        target_id = serializers.IntegerField(
            min_value=0, help_text="Stream, user or reel id; for a chat message, the client's message id"
        )
        reason = serializers.ChoiceField(choices=Report.Reason.choices)
        details = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
        stream_id = IdField(required=False, help_text="Chat messages: the room")
        author_id = IdField(required=False, help_text="Chat messages: who wrote it")
        message_text = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")

        def validate(self, attrs):
            if attrs["target_type"] == Case.TargetType.CHAT_MESSAGE:
                missing = {
                    f: [gettext_lazy("Required for a chat message.")]
                    for f in ("stream_id", "author_id")
                    if f not in attrs
                }
                if not attrs.get("message_text"):
                    missing["message_text"] = [gettext_lazy("Required for a chat message.")]
                if missing:
                    raise serializers.ValidationError(missing)
            return attrs

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        case_id = serializers.IntegerField()
        reason = serializers.CharField()
        created_at = serializers.DateTimeField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer}, operation_id="moderation_report")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report, created = services.report_create(reporter=request_user(request), **data.validated_data)
        return Response(
            self.OutputSerializer(report).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class EnforcementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    rule = serializers.CharField()
    explanation = serializers.SerializerMethodField(help_text="Why, in the reader's language.")
    created_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    stream_id = serializers.IntegerField(allow_null=True)
    frame_url = serializers.SerializerMethodField()
    message_text = serializers.CharField()
    model_score = serializers.FloatField(allow_null=True)
    model_version = serializers.CharField()
    appealable = serializers.SerializerMethodField()
    appeal = serializers.SerializerMethodField()

    def get_explanation(self, obj) -> str:
        return enforcement_explanation(obj)

    def get_frame_url(self, obj) -> str | None:
        """The user's own evidence: a link signed for MEDIA_PRIVATE_URL_SECONDS (frames are private media)."""
        if obj.frame_id is None or not obj.frame.image:
            return None
        request = self.context.get("request")
        url = obj.frame.image.url
        return request.build_absolute_uri(url) if request else url

    def get_appealable(self, obj) -> bool:
        return selectors.enforcement_appealable(enforcement=obj)

    def get_appeal(self, obj) -> dict | None:
        appeal = getattr(obj, "appeal", None)
        if appeal is None:
            return None
        return {
            "status": appeal.status,
            "text": appeal.text,
            "created_at": iso_utc(appeal.created_at),
            "decided_at": iso_utc(appeal.decided_at),
            "outcome_note": appeal.outcome_note,
        }


class EnforcementListApi(APIView):
    """What moderation did to me, why, and with what evidence (model score and version when a model flagged it)."""

    pagination_class = FeedCursorPagination

    @extend_schema(responses={200: EnforcementSerializer(many=True)}, operation_id="moderation_enforcement_list")
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.enforcement_list(user=request_user(request)), request, view=self)
        return paginator.get_paginated_response(
            EnforcementSerializer(page, many=True, context={"request": request}).data
        )


class EnforcementAppealApi(APIView):
    class InputSerializer(StrictInputSerializer):
        text = serializers.CharField(max_length=1000, min_length=3)

    @extend_schema(
        request=InputSerializer, responses={201: EnforcementSerializer}, operation_id="moderation_enforcement_appeal"
    )
    def post(self, request: Request, enforcement_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        appeal = services.appeal_create(
            user=request_user(request), enforcement_id=enforcement_id, text=data.validated_data["text"]
        )
        enforcement = selectors.enforcement_list(user=request_user(request)).get(pk=appeal.enforcement_id)
        return Response(
            EnforcementSerializer(enforcement, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class HostWordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    term = serializers.CharField()
    created_at = serializers.DateTimeField()


class HostWordInputSerializer(StrictInputSerializer):
    term = serializers.CharField(max_length=100, trim_whitespace=True, allow_blank=False)


class HostWordListCreateApi(APIView):
    """The signed-in host's own banned words: masked in their rooms' chat like the platform's list,
    and counted towards muting a repeat offender. At most MODERATION_HOST_WORDS_MAX (`host_word_limit`, 409)."""

    pagination_class = FeedCursorPagination  # GET; the POST answers one word

    @extend_schema(responses={200: HostWordSerializer(many=True)}, operation_id="moderation_host_word_list")
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.host_word_list(host_id=request_user(request).pk), request, view=self
        )
        return paginator.get_paginated_response(HostWordSerializer(page, many=True).data)

    @extend_schema(
        request=HostWordInputSerializer,
        responses={201: HostWordSerializer, 200: HostWordSerializer},
        operation_id="moderation_host_word_add",
    )
    def post(self, request: Request) -> Response:
        data = HostWordInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        word, created = services.host_word_add(host=request_user(request), term=data.validated_data["term"])
        return Response(
            HostWordSerializer(word).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class HostWordDetailApi(APIView):
    @extend_schema(
        request=HostWordInputSerializer, responses={200: HostWordSerializer}, operation_id="moderation_host_word_update"
    )
    def patch(self, request: Request, word_id: int) -> Response:
        data = HostWordInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        word = services.host_word_update(host=request_user(request), word_id=word_id, term=data.validated_data["term"])
        return Response(HostWordSerializer(word).data)

    @extend_schema(request=None, responses={204: None}, operation_id="moderation_host_word_delete")
    def delete(self, request: Request, word_id: int) -> Response:
        services.host_word_delete(host=request_user(request), word_id=word_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
