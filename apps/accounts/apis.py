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

from apps.accounts import recovery, selectors, services, twofactor
from apps.accounts.authentication import request_user
from apps.core.client_address import client_address
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
    phone_verified_at = serializers.DateTimeField(
        allow_null=True, help_text="When an SMS code proved the phone; null: unverified."
    )
    email_verified_at = serializers.DateTimeField(
        allow_null=True, help_text="When an emailed link proved the email; null: unverified."
    )
    contact_verified = serializers.BooleanField(
        source="is_contact_verified",
        help_text="The phone or the email is verified. Accounts signed up by username start unverified.",
    )


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

    @extend_schema(
        request=InputSerializer,
        responses={201: AuthResponseSerializer},
        operation_id="auth_signup",
        description="Sign up with a username and password. The account starts unverified "
        "(`user.contact_verified` false) until its phone (/me/phone/verify/) or email (/me/email/verify/) "
        "is verified. To sign up with a phone number proven by an SMS code, use /auth/signup/phone/.",
    )
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


# --- Phone sign-up, password reset, verification, contact change, two-step sign-in ------------

phone_field_help = "A Nepali mobile number as typed (9801234567, +977 980-1234567); codes go to Nepali mobiles only."


class CodeSentSerializer(serializers.Serializer):
    expires_in = serializers.IntegerField(help_text="Seconds the code (or link) stays valid.")
    resend_in = serializers.IntegerField(help_text="Seconds before another code may be asked for.")


def _code_sent(sent: recovery.CodeSent) -> Response:
    return Response(CodeSentSerializer(sent).data, status=status.HTTP_202_ACCEPTED)


class SignupPhoneCodeApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "verification_send"

    class InputSerializer(StrictInputSerializer):
        phone = serializers.CharField(max_length=32, help_text=phone_field_help)

    @extend_schema(
        request=InputSerializer,
        responses={202: CodeSentSerializer},
        operation_id="auth_signup_phone_code",
        description="Text a 6-digit sign-up code to the phone (one a minute, a few an hour per number).",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _code_sent(recovery.signup_code_send(**data.validated_data))


class SignupPhoneApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "verification_check"

    class InputSerializer(StrictInputSerializer):
        phone = serializers.CharField(max_length=32, help_text=phone_field_help)
        code = serializers.CharField(max_length=6, help_text="The 6-digit code from the SMS.")
        password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
        username = serializers.CharField(
            required=False, validators=[username_validator], help_text="Optional: one is made up when missing."
        )
        display_name = serializers.CharField(required=False, allow_blank=True, max_length=50)
        date_of_birth = serializers.DateField(required=False, allow_null=True)
        country = serializers.CharField(required=False, validators=[country_validator])

    @extend_schema(
        request=InputSerializer,
        responses={201: AuthResponseSerializer},
        operation_id="auth_signup_phone",
        description="Sign up with a phone proven by the code of /auth/signup/phone/code/: the account starts "
        "verified. A code is good once, for 10 minutes and 5 guesses.",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = recovery.user_create_by_phone(**data.validated_data, client=client_address(request))
        tokens = services.tokens_issue(user=user)
        return Response(
            {"user": MeSerializer(user, context={"request": request}).data, "tokens": tokens},
            status=status.HTTP_201_CREATED,
        )


class PasswordResetApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "verification_send"

    class InputSerializer(StrictInputSerializer):
        phone = serializers.CharField(required=False, max_length=32, help_text=phone_field_help)
        email = serializers.EmailField(required=False, max_length=254)

        def validate(self, attrs: dict) -> dict:
            if bool(attrs.get("phone")) == bool(attrs.get("email")):
                raise serializers.ValidationError({"phone": [gettext_lazy("Give either a phone number or an email.")]})
            return attrs

    @extend_schema(
        request=InputSerializer,
        responses={202: CodeSentSerializer},
        operation_id="auth_password_reset",
        description="Text a reset code to the phone, or email a reset link. The answer is the same whether or "
        "not an account has that phone or email.",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _code_sent(recovery.password_reset_start(**data.validated_data))


class PasswordResetConfirmApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "verification_check"

    class InputSerializer(StrictInputSerializer):
        phone = serializers.CharField(required=False, max_length=32, help_text=phone_field_help)
        code = serializers.CharField(required=False, max_length=6, help_text="The SMS code (with phone).")
        token = serializers.CharField(required=False, max_length=100, help_text="The email link's token.")
        new_password = serializers.CharField(max_length=128, trim_whitespace=False)

        def validate(self, attrs: dict) -> dict:
            if not attrs.get("token") and not (attrs.get("phone") and attrs.get("code")):
                raise serializers.ValidationError(
                    {"code": [gettext_lazy("Give the phone and its code, or the token.")]}
                )
            return attrs

    @extend_schema(
        request=InputSerializer,
        responses={204: None},
        operation_id="auth_password_reset_confirm",
        description="Set a new password with the SMS code or the email link's token. Every session of the "
        "account ends (as /auth/logout-all/); sign in again (with the second factor, if enabled).",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        recovery.password_reset_confirm(**data.validated_data, client=client_address(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailConfirmApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "verification_check"

    class InputSerializer(StrictInputSerializer):
        token = serializers.CharField(max_length=100, help_text="The token of the emailed link.")

    class OutputSerializer(serializers.Serializer):
        purpose = serializers.CharField(help_text='"verify", "change_old" or "change_new".')
        applied = serializers.BooleanField(help_text="False while the other half of an email change waits.")

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer}, operation_id="auth_email_confirm")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(self.OutputSerializer(recovery.email_link_confirm(**data.validated_data)).data)


class LoginSecondFactorApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    class InputSerializer(StrictInputSerializer):
        challenge = serializers.CharField(max_length=500, help_text="details.challenge of second_factor_required.")
        code = serializers.CharField(max_length=16, help_text="The authenticator's 6 digits, or a recovery code.")

    @extend_schema(
        request=InputSerializer,
        responses={200: AuthResponseSerializer},
        operation_id="auth_login_second_factor",
        description="Finish a sign-in that answered 401 second_factor_required. A recovery code works once.",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, tokens = services.user_login_second_factor(**data.validated_data)
        return Response({"user": MeSerializer(user, context={"request": request}).data, "tokens": tokens})


class PhoneVerifyCodeApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "verification_send"

    @extend_schema(
        request=None,
        responses={202: CodeSentSerializer},
        operation_id="me_phone_verify_code",
        description="Text a code to the account's unverified phone.",
    )
    def post(self, request: Request) -> Response:
        return _code_sent(recovery.contact_verify_send(user=request_user(request), channel="sms"))


class PhoneVerifyApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "verification_check"

    class InputSerializer(StrictInputSerializer):
        code = serializers.CharField(max_length=6)

    @extend_schema(request=InputSerializer, responses={200: MeSerializer}, operation_id="me_phone_verify")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = recovery.phone_verify(user=request_user(request), **data.validated_data, client=client_address(request))
        return Response(MeSerializer(user, context={"request": request}).data)


class EmailVerifyApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "verification_send"

    @extend_schema(
        request=None,
        responses={202: CodeSentSerializer},
        operation_id="me_email_verify",
        description="Email a confirmation link to the account's unverified email.",
    )
    def post(self, request: Request) -> Response:
        return _code_sent(recovery.contact_verify_send(user=request_user(request), channel="email"))


class ContactChangeApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "verification_send"

    class InputSerializer(StrictInputSerializer):
        password = serializers.CharField(max_length=128, trim_whitespace=False)
        phone = serializers.CharField(required=False, max_length=32, help_text=phone_field_help)
        email = serializers.EmailField(required=False, max_length=254)

        def validate(self, attrs: dict) -> dict:
            if bool(attrs.get("phone")) == bool(attrs.get("email")):
                raise serializers.ValidationError({"phone": [gettext_lazy("Give either a phone number or an email.")]})
            return attrs

    class OutputSerializer(serializers.Serializer):
        change_id = serializers.UUIDField()
        confirm_old = serializers.BooleanField(help_text="A code (or link) went to the current one too.")
        expires_in = serializers.IntegerField(source="sent.expires_in")
        resend_in = serializers.IntegerField(source="sent.resend_in")

    @extend_schema(
        request=InputSerializer,
        responses={202: OutputSerializer},
        operation_id="me_contact_change",
        description="Change the phone or email, confirmed on both: a phone change sends SMS codes to the new "
        "and the current phone (confirm with /me/contact/change/confirm/); an email change emails links to "
        "both addresses, and applies when both are opened.",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        started = recovery.contact_change_start(user=request_user(request), **data.validated_data)
        return Response(self.OutputSerializer(started).data, status=status.HTTP_202_ACCEPTED)


class ContactChangeConfirmApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "verification_check"

    class InputSerializer(StrictInputSerializer):
        change_id = serializers.UUIDField()
        new_code = serializers.CharField(max_length=6, help_text="The code sent to the new phone.")
        old_code = serializers.CharField(
            required=False, max_length=6, help_text="The code sent to the current phone (when confirm_old)."
        )

    @extend_schema(request=InputSerializer, responses={200: MeSerializer}, operation_id="me_contact_change_confirm")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = recovery.contact_change_confirm(
            user=request_user(request), **data.validated_data, client=client_address(request)
        )
        return Response(MeSerializer(user, context={"request": request}).data)


class TwoFactorSetupApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    class InputSerializer(StrictInputSerializer):
        password = serializers.CharField(max_length=128, trim_whitespace=False)

    class OutputSerializer(serializers.Serializer):
        secret = serializers.CharField(help_text="Base32 key, to type into an authenticator app.")
        otpauth_url = serializers.CharField(help_text="otpauth:// URL, for a QR code.")

    @extend_schema(
        request=InputSerializer,
        responses={201: OutputSerializer},
        operation_id="me_two_factor_setup",
        description="Start two-step sign-in: add the key to an authenticator app, then confirm with a code.",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        setup = twofactor.totp_setup_start(user=request_user(request), **data.validated_data)
        return Response(self.OutputSerializer(setup).data, status=status.HTTP_201_CREATED)


class TwoFactorConfirmApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    class InputSerializer(StrictInputSerializer):
        code = serializers.CharField(max_length=6)

    class OutputSerializer(serializers.Serializer):
        recovery_codes = serializers.ListField(
            child=serializers.CharField(), help_text="Shown this once: each signs in once without the app."
        )

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer}, operation_id="me_two_factor_confirm")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        codes = twofactor.totp_setup_confirm(user=request_user(request), **data.validated_data)
        return Response({"recovery_codes": codes})


class TwoFactorDisableApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    class InputSerializer(StrictInputSerializer):
        password = serializers.CharField(max_length=128, trim_whitespace=False)
        code = serializers.CharField(max_length=16, help_text="The authenticator's code, or a recovery code.")

    @extend_schema(request=InputSerializer, responses={204: None}, operation_id="me_two_factor_disable")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        twofactor.two_factor_disable(user=request_user(request), **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
