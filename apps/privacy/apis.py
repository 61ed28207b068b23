from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.apis import AuthResponseSerializer, MeSerializer
from apps.accounts.authentication import request_user
from apps.core.deprecation import DeprecatedApiMixin
from apps.core.serializers import StrictInputSerializer
from apps.core.throttling import ScopedRateThrottle
from apps.privacy import selectors, services


class AccountDeletionSerializer(serializers.Serializer):
    status = serializers.CharField()
    requested_at = serializers.DateTimeField()
    undo_until = serializers.DateTimeField(source="due_at", help_text="Sign in and undo before this time.")


class AccountDeletionRequestApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"  # a password check: the same limit as signing in

    class InputSerializer(StrictInputSerializer):
        password = serializers.CharField(
            max_length=128,
            trim_whitespace=False,
            required=False,
            help_text="The account's password. An account without one signs in again first and sends none.",
        )
        reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")

    @extend_schema(
        request=InputSerializer,
        responses={202: AccountDeletionSerializer},
        operation_id="me_deletion_request",
        description=(
            "Delete the signed-in user's account. At once: every session ends, the profile is hidden, live "
            "streams end, reels and the avatar are deleted, follows and blocks are removed. Until `undo_until` "
            "signing in answers `account_deletion_pending` and the undo restores the account (name and bio; "
            "deleted media and the social graph do not come back). After it the account is anonymised; coins "
            "and earnings left are forfeited. Refused while a cash-out waits for Finance."
        ),
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deletion = services.account_deletion_request(user=request_user(request), **data.validated_data)
        return Response(AccountDeletionSerializer(deletion).data, status=status.HTTP_202_ACCEPTED)


class AccountDeletionUndoApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    class InputSerializer(StrictInputSerializer):
        identifier = serializers.CharField(max_length=254, help_text="Username, email or phone number.")
        password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(
        request=InputSerializer,
        responses={200: AuthResponseSerializer},
        operation_id="me_deletion_undo",
        description="Undo a pending deletion with the account's credentials and sign in.",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, tokens = services.account_deletion_undo(**data.validated_data)
        return Response({"user": MeSerializer(user, context={"request": request}).data, "tokens": tokens})


class DataExportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=["pending", "ready", "failed", "expired"],
        help_text="pending: being built (poll, or wait for the inbox item); failed: ask again; expired: deleted.",
    )
    requested_at = serializers.DateTimeField()
    ready_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True, help_text="When the file is deleted.")
    size_bytes = serializers.IntegerField(min_value=0)
    download_url = serializers.SerializerMethodField(
        help_text="While ready: a link to the zip (one JSON file per area) that works for a few minutes. Fetch "
        "this resource again for a fresh one."
    )
    download_url_expires_at = serializers.SerializerMethodField()

    def _ready(self, export) -> bool:
        return export.status == "ready" and bool(export.file)

    def get_download_url(self, export) -> str | None:
        if not self._ready(export):
            return None
        url = export.file.storage.url(export.file.name, expire=settings.DATA_EXPORT_LINK_SECONDS)
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None and url.startswith("/") else url

    def get_download_url_expires_at(self, export) -> datetime | None:
        if not self._ready(export):
            return None
        return datetime.now(UTC) + timedelta(seconds=settings.DATA_EXPORT_LINK_SECONDS)


class DataExportRequestApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "data_export"

    @extend_schema(
        request=None,
        responses={202: DataExportSerializer},
        operation_id="me_data_export_request",
        description=(
            "Ask for a copy of the signed-in user's own data: profile, following, followers, blocks, gifts sent "
            "and received, coin statement, payments, cash-outs, reels, moderation decisions and deletion requests, "
            "as a zip of JSON files. It is built in the background: poll `GET /api/v1/me/exports/{id}/`, or wait "
            "for the `data_export` inbox item. While one is being built, asking again answers that one."
        ),
    )
    def post(self, request: Request) -> Response:
        export = services.data_export_request(user=request_user(request))
        return Response(
            DataExportSerializer(export, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )


class DataExportDetailApi(APIView):
    @extend_schema(
        responses={200: DataExportSerializer},
        operation_id="me_data_export",
        description="Where one of the user's exports stands and, while ready, a short-lived link to download it.",
    )
    def get(self, request: Request, export_id: int) -> Response:
        export = selectors.data_export_of(user=request_user(request), export_id=export_id)
        return Response(DataExportSerializer(export, context={"request": request}).data)


class AccountExportApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "data_export"

    @extend_schema(
        responses={200: OpenApiResponse(description="The user's own data as one JSON document (a download).")},
        operation_id="me_export",
        deprecated=True,
        description=(
            "Deprecated (Sunset 2027-03-06): use `POST /api/v1/me/exports/`, which builds a zip in the background. "
            "Download the signed-in user's own data: profile, following, followers, blocks, gifts sent and "
            "received, coin statement, payments, cash-outs, reels, moderation decisions and deletion requests."
        ),
    )
    def get(self, request: Request) -> Response:
        user = request_user(request)
        filename = f"halobuzz-{user.username}-{timezone.now():%Y%m%d}.json"
        return Response(
            selectors.account_export(user=user), headers={"Content-Disposition": f'attachment; filename="{filename}"'}
        )


class AccountExportDeprecatedApi(DeprecatedApiMixin, AccountExportApi):
    """The synchronous export, kept for clients built before `POST /api/v1/me/exports/`."""

    deprecated_since = datetime(2026, 12, 6, tzinfo=UTC)
    sunset = datetime(2027, 3, 6, tzinfo=UTC)
    successor_url_name = "me-exports"
