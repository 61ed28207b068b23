from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import request_user, request_user_id
from apps.core.pagination import FeedCursorPagination
from apps.core.serializers import StrictInputSerializer
from apps.notifications import selectors, services
from apps.notifications.models import Device, Kind, Notification, Preference
from apps.notifications.texts import notification_text


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Kind.choices)
    title = serializers.SerializerMethodField(help_text="In the reader's language.")
    body = serializers.SerializerMethodField(help_text="In the reader's language.")
    count = serializers.IntegerField(help_text="Events folded into this item (gifts, new followers), else 1.")
    data = serializers.SerializerMethodField(  # type: ignore[assignment]  # a field named like Serializer.data
        help_text="Ids the app opens the item with (stream_id, payment_id...)."
    )
    read = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def _text(self, item: Notification) -> tuple[str, str]:
        cached = getattr(item, "_text", None)
        if cached is None:
            cached = item._text = notification_text(kind=item.kind, params=item.params)  # type: ignore[attr-defined]
        return cached

    def get_title(self, item: Notification) -> str:
        return self._text(item)[0]

    def get_body(self, item: Notification) -> str:
        return self._text(item)[1]

    def get_data(self, item: Notification) -> dict[str, Any]:
        return {key: value for key, value in item.params.items() if key.endswith("_id")}

    def get_read(self, item: Notification) -> bool:
        return item.read_at is not None


class NotificationListApi(APIView):
    """The signed-in user's inbox, newest first (cursor pagination)."""

    pagination_class = FeedCursorPagination

    @extend_schema(responses={200: NotificationSerializer(many=True)}, operation_id="notification_list")
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.notification_list(user_id=request_user_id(request)), request, self)
        return paginator.get_paginated_response(NotificationSerializer(page or [], many=True).data)


class NotificationReadApi(APIView):
    @extend_schema(request=None, responses={200: NotificationSerializer}, operation_id="notification_read")
    def post(self, request: Request, notification_id: int) -> Response:
        item = services.notification_mark_read(user=request_user(request), notification_id=notification_id)
        return Response(NotificationSerializer(item).data)


class NotificationReadAllApi(APIView):
    class OutputSerializer(serializers.Serializer):
        marked = serializers.IntegerField(help_text="Items that were unread.")

    @extend_schema(request=None, responses={200: OutputSerializer}, operation_id="notification_read_all")
    def post(self, request: Request) -> Response:
        marked = services.notifications_mark_all_read(user=request_user(request))
        return Response(self.OutputSerializer({"marked": marked}).data)


class NotificationUnreadCountApi(APIView):
    class OutputSerializer(serializers.Serializer):
        unread = serializers.IntegerField()

    @extend_schema(responses={200: OutputSerializer}, operation_id="notification_unread_count")
    def get(self, request: Request) -> Response:
        unread = selectors.notification_unread_count(user_id=request_user_id(request))
        return Response(self.OutputSerializer({"unread": unread}).data)


class DeviceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    platform = serializers.ChoiceField(choices=Device.Platform.choices)
    locale = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()


class DeviceRegisterApi(APIView):
    """Register this install's FCM registration token for the signed-in user (again at every start
    and whenever FCM rotates the token)."""

    class InputSerializer(StrictInputSerializer):
        token = serializers.CharField(max_length=512, help_text="The FCM registration token.")
        platform = serializers.ChoiceField(choices=Device.Platform.choices)
        locale = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")

    @extend_schema(
        request=InputSerializer, responses={200: DeviceSerializer}, operation_id="notification_device_register"
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.device_register(user=request_user(request), **data.validated_data)
        return Response(DeviceSerializer(device).data)


class DeviceUnregisterApi(APIView):
    """Forget one of the signed-in user's devices (at sign-out)."""

    class InputSerializer(StrictInputSerializer):
        token = serializers.CharField(max_length=512)

    @extend_schema(request=InputSerializer, responses={204: None}, operation_id="notification_device_unregister")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.device_unregister(user=request_user(request), token=data.validated_data["token"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class PreferenceSerializer(serializers.Serializer):
    go_live = serializers.BooleanField()
    stream_reminder = serializers.BooleanField()
    gift_received = serializers.BooleanField()
    new_follower = serializers.BooleanField()
    moderation_decision = serializers.BooleanField()
    appeal_outcome = serializers.BooleanField()
    payment_result = serializers.BooleanField()
    cashout_result = serializers.BooleanField()
    quiet_hours_start = serializers.TimeField(allow_null=True, help_text="Nepal time (HH:MM); no pushes from then.")
    quiet_hours_end = serializers.TimeField(allow_null=True, help_text="Nepal time; may be past midnight.")


class PreferenceApi(APIView):
    """Which kinds are pushed, and quiet hours (Nepal time) without pushes. The inbox keeps every
    item whatever is set, except go-live alerts, which a follower with them off does not get at all."""

    class InputSerializer(StrictInputSerializer, PreferenceSerializer):
        pass

    @extend_schema(responses={200: PreferenceSerializer}, operation_id="notification_preferences_get")
    def get(self, request: Request) -> Response:
        return Response(PreferenceSerializer(selectors.preference_of(user_id=request_user_id(request))).data)

    @extend_schema(
        request=InputSerializer(partial=True),
        responses={200: PreferenceSerializer},
        operation_id="notification_preferences_update",
    )
    def patch(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        preference: Preference = services.preference_update(user=request_user(request), **data.validated_data)
        return Response(PreferenceSerializer(preference).data)
