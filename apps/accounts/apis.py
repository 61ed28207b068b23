from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts import selectors, services
from apps.accounts.authentication import request_user
from apps.core.pagination import FeedCursorPagination
from apps.core.parsers import FormParser, JSONParser, MultiPartParser
from apps.core.schema import request_per_media_type
from apps.core.serializers import StrictInputSerializer
from apps.core.throttling import ScopedRateThrottle

username_validator = RegexValidator(r"^[A-Za-z0-9_.]{3,30}$", "3 to 30 letters, digits, underscores or dots.")
phone_validator = RegexValidator(r"^\+[1-9][0-9]{7,14}$", "Use the international format, e.g. +9779801234567.")
country_validator = RegexValidator(r"^[A-Z]{2}$", "A two-letter ISO country code, e.g. NP.")


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    email = serializers.EmailField(allow_null=True)
    phone = serializers.CharField(allow_null=True)
    avatar = serializers.ImageField(allow_null=True)
    bio = serializers.CharField()
    date_of_birth = serializers.DateField(allow_null=True)
    age = serializers.IntegerField(allow_null=True)
    is_adult = serializers.BooleanField()
    age_verification = serializers.CharField()
    country = serializers.CharField()
    language = serializers.CharField(help_text='The saved language ("en", "ne"); "" follows Accept-Language.')
    date_joined = serializers.DateTimeField()


class PublicProfileSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    avatar = serializers.ImageField(allow_null=True)
    bio = serializers.CharField()
    country = serializers.CharField()
    followers_count = serializers.IntegerField()
    following_count = serializers.IntegerField()
    is_following = serializers.SerializerMethodField()

    def get_is_following(self, obj: object) -> bool:
        return bool(self.context["is_following"])


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    avatar = serializers.ImageField(allow_null=True)


class AuthResponseSerializer(serializers.Serializer):
    user = MeSerializer()
    tokens = TokenPairSerializer()


class SignupApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "signup"

    class InputSerializer(StrictInputSerializer):
        username = serializers.CharField(validators=[username_validator])
        password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
        email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
        phone = serializers.CharField(required=False, allow_blank=True, validators=[phone_validator])
        display_name = serializers.CharField(required=False, allow_blank=True, max_length=50)
        date_of_birth = serializers.DateField(required=False, allow_null=True)
        country = serializers.CharField(required=False, validators=[country_validator])

        def validate(self, attrs: dict) -> dict:
            if not attrs.get("email") and not attrs.get("phone"):
                raise serializers.ValidationError({"email": [gettext_lazy("Give an email or a phone number.")]})
            return attrs

    @extend_schema(request=InputSerializer, responses={201: AuthResponseSerializer}, operation_id="auth_signup")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_create(**data.validated_data)
        tokens = services.tokens_issue(user=user)
        return Response(
            {"user": MeSerializer(user, context={"request": request}).data, "tokens": tokens},
            status=status.HTTP_201_CREATED,
        )


class LoginApi(APIView):
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
        operation_id="auth_login",
        examples=[OpenApiExample("By username", value={"identifier": "sita", "password": "a long passphrase"})],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, tokens = services.user_login(**data.validated_data)
        return Response({"user": MeSerializer(user, context={"request": request}).data, "tokens": tokens})


class TokenRefreshApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    class InputSerializer(StrictInputSerializer):
        refresh = serializers.CharField(max_length=2000)

    @extend_schema(request=InputSerializer, responses={200: TokenPairSerializer}, operation_id="auth_refresh")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(services.tokens_refresh(refresh=data.validated_data["refresh"]))


class LogoutApi(APIView):
    class InputSerializer(StrictInputSerializer):
        refresh = serializers.CharField(max_length=2000)

    @extend_schema(request=InputSerializer, responses={204: None}, operation_id="auth_logout")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        access = request.auth if isinstance(request.auth, AccessToken) else None
        services.user_logout(user=request_user(request), refresh=data.validated_data["refresh"], access=access)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutEverywhereApi(APIView):
    @extend_schema(
        request=None,
        responses={204: None},
        operation_id="auth_logout_everywhere",
        description="End every session of the signed-in user: every access and refresh token issued so far "
        "is refused at once (this one too), and open room sockets close with 4001. Sign in again afterwards.",
    )
    def post(self, request: Request) -> Response:
        services.user_revoke_all_sessions(user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    class InputSerializer(StrictInputSerializer):
        display_name = serializers.CharField(required=False, allow_blank=True, max_length=50)
        bio = serializers.CharField(required=False, allow_blank=True, max_length=300)
        avatar = serializers.ImageField(required=False, allow_null=True)
        date_of_birth = serializers.DateField(required=False)
        country = serializers.CharField(required=False, validators=[country_validator])
        email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
        phone = serializers.CharField(required=False, allow_blank=True, validators=[phone_validator])
        language = serializers.ChoiceField(
            choices=[code for code, _name in settings.LANGUAGES],
            required=False,
            allow_blank=True,
            help_text='What the user reads is in this language ("" follows Accept-Language).',
        )

        def validate_avatar(self, value):
            if value is not None and value.size > settings.AVATAR_MAX_BYTES:
                raise serializers.ValidationError(gettext_lazy("Avatars are at most 2 MB."))
            return value

    @extend_schema(responses={200: MeSerializer}, operation_id="me_get")
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user, context={"request": request}).data)

    @extend_schema(
        request=request_per_media_type(
            InputSerializer, "application/json", "multipart/form-data", "application/x-www-form-urlencoded"
        ),
        responses={200: MeSerializer},
        operation_id="me_update",
    )
    def patch(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.user_update_profile(user=request_user(request), data=dict(data.validated_data))
        return Response(MeSerializer(user, context={"request": request}).data)


class PasswordChangeApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    class InputSerializer(StrictInputSerializer):
        old_password = serializers.CharField(max_length=128, trim_whitespace=False)
        new_password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={204: None}, operation_id="me_password_change")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_change_password(user=request_user(request), **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserProfileApi(APIView):
    @extend_schema(responses={200: PublicProfileSerializer}, operation_id="user_profile")
    def get(self, request: Request, username: str) -> Response:
        viewer = request_user(request)
        target = selectors.user_get_visible(username=username, viewer=viewer)
        profile = selectors.user_with_counts(user_id=target.pk)
        following = selectors.is_following(follower_id=viewer.pk, followee_id=target.pk)
        return Response(PublicProfileSerializer(profile, context={"request": request, "is_following": following}).data)


class FollowApi(APIView):
    @extend_schema(request=None, responses={204: None}, operation_id="user_follow")
    def post(self, request: Request, username: str) -> Response:
        services.follow_create(
            follower=request_user(request), followee=selectors.user_get_by_username(username=username)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={204: None}, operation_id="user_unfollow")
    def delete(self, request: Request, username: str) -> Response:
        services.follow_delete(
            follower=request_user(request), followee=selectors.user_get_by_username(username=username)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class BlockApi(APIView):
    @extend_schema(request=None, responses={204: None}, operation_id="user_block")
    def post(self, request: Request, username: str) -> Response:
        services.block_create(blocker=request_user(request), blocked=selectors.user_get_by_username(username=username))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={204: None}, operation_id="user_unblock")
    def delete(self, request: Request, username: str) -> Response:
        services.block_delete(blocker=request_user(request), blocked=selectors.user_get_by_username(username=username))
        return Response(status=status.HTTP_204_NO_CONTENT)


class _LinkListApi(APIView):
    """A cursor-paginated list of users linked to someone (followers, following, blocked)."""

    pagination_class = FeedCursorPagination
    side: str

    def page(self, request: Request, qs: QuerySet[Any]) -> Response:
        paginator = self.pagination_class()
        rows = paginator.paginate_queryset(qs, request, view=self) or []
        users = [getattr(row, self.side) for row in rows]
        return paginator.get_paginated_response(
            UserBriefSerializer(users, many=True, context={"request": request}).data
        )


class FollowerListApi(_LinkListApi):
    side = "follower"

    @extend_schema(responses={200: UserBriefSerializer(many=True)}, operation_id="user_followers")
    def get(self, request: Request, username: str) -> Response:
        return self.page(
            request,
            selectors.follower_list(user=selectors.user_get_visible(username=username, viewer=request_user(request))),
        )


class FollowingListApi(_LinkListApi):
    side = "followee"

    @extend_schema(responses={200: UserBriefSerializer(many=True)}, operation_id="user_following")
    def get(self, request: Request, username: str) -> Response:
        return self.page(
            request,
            selectors.following_list(user=selectors.user_get_visible(username=username, viewer=request_user(request))),
        )


class BlockListApi(_LinkListApi):
    side = "blocked"

    @extend_schema(responses={200: UserBriefSerializer(many=True)}, operation_id="me_blocked")
    def get(self, request: Request) -> Response:
        return self.page(request, selectors.block_list(user=request_user(request)))
