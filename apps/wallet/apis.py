import re
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import request_user
from apps.core.idempotency import idempotent
from apps.core.pagination import FeedCursorPagination
from apps.core.parsers import FormParser, MultiPartParser
from apps.core.schema import request_per_media_type
from apps.core.serializers import IdField, StrictInputSerializer
from apps.core.uploads import limit_upload_size
from apps.wallet import selectors, services
from apps.wallet.exceptions import KycImageTooLarge
from apps.wallet.models import CashoutRequest, KycSubmission, PayoutDestination, SpendingControls


class PostingCursorPagination(FeedCursorPagination):
    page_size = 30
    ordering = "-id"


class WalletBalanceApi(APIView):
    class OutputSerializer(serializers.Serializer):
        coins = serializers.IntegerField()
        earnings = serializers.IntegerField()
        cashout_min_coins = serializers.IntegerField()
        cashout_paisa_per_coin = serializers.IntegerField()

    @extend_schema(responses={200: OutputSerializer}, operation_id="wallet_balance")
    def get(self, request: Request) -> Response:
        balances = selectors.user_balances(user=request_user(request))
        return Response(
            {
                **balances,
                "cashout_min_coins": settings.CASHOUT_MIN_COINS,
                "cashout_paisa_per_coin": settings.CASHOUT_PAISA_PER_COIN,
            }
        )


class WalletHistoryApi(APIView):
    pagination_class = PostingCursorPagination

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        account = serializers.CharField(source="account.kind")
        amount = serializers.IntegerField()
        kind = serializers.CharField(source="entry.kind")
        ref = serializers.CharField(source="entry.ref")
        memo = serializers.CharField(source="entry.memo")
        created_at = serializers.DateTimeField(source="entry.created_at")

    @extend_schema(
        parameters=[OpenApiParameter("kind", str, description="Only entries of this kind (gift, topup, grant, …)")],
        responses={200: OutputSerializer(many=True)},
        operation_id="wallet_history",
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        qs = selectors.posting_history(user=request_user(request), kind=request.query_params.get("kind") or None)
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class PayoutDestinationSerializer(serializers.Serializer):
    """A place payouts go. `status`: pending_deposit (the confirmation credit is on its way),
    awaiting_code (type in the code from its remark), verified, failed. `is_default`: where a
    cash-out that names no destination goes."""

    id = serializers.IntegerField()
    rail = serializers.CharField()
    account_id = serializers.CharField()
    account_name = serializers.CharField()
    bank_code = serializers.CharField()
    branch_code = serializers.CharField()
    status = serializers.CharField()
    is_default = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    verified_at = serializers.DateTimeField(allow_null=True)


class CashoutDestinationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rail = serializers.CharField()
    account_id_last4 = serializers.SerializerMethodField()

    def get_account_id_last4(self, obj: PayoutDestination) -> str:
        return obj.account_id[-4:]


class CashoutSerializer(serializers.Serializer):
    """A cash-out request and how it is paid (the host's payout statement). `status`: requested
    (waiting for the hold period and Finance), batched (sent to the provider), approved (paid:
    `provider_ref`), rejected or failed (the earnings, tax included, were returned). While it
    waits, `held` marks one that cannot be paid until a review of the host's account ends, and
    `hold_reasons` says why."""

    # context["hold_reasons"]: the host's active hold reasons, translated (a waiting cash-out shows them)

    id = serializers.IntegerField()
    coins = serializers.IntegerField()
    paisa_per_coin = serializers.IntegerField()
    amount_paisa = serializers.IntegerField()
    tax_coins = serializers.IntegerField(help_text="Earnings withheld as tax.")
    tax_paisa = serializers.IntegerField(help_text="Tax withheld, in paisa.")
    net_paisa = serializers.IntegerField(allow_null=True, help_text="What the host receives, in paisa.")
    destination = CashoutDestinationSerializer(allow_null=True)
    payable_at = serializers.DateTimeField(allow_null=True, help_text="When the hold period ends.")
    provider_ref = serializers.CharField(help_text="The bank's or wallet's reference once paid.")
    status = serializers.CharField()
    review_note = serializers.CharField()
    created_at = serializers.DateTimeField()
    reviewed_at = serializers.DateTimeField(allow_null=True)
    held = serializers.SerializerMethodField(help_text="Waiting for a review of the account: cannot be paid yet.")
    hold_reasons = serializers.SerializerMethodField(help_text="Why it waits (empty unless held).")

    def _reasons(self, obj: CashoutRequest) -> list[str]:
        waiting = obj.status == CashoutRequest.Status.REQUESTED
        return list(self.context.get("hold_reasons", [])) if waiting else []

    def get_held(self, obj: CashoutRequest) -> bool:
        return bool(self._reasons(obj))

    def get_hold_reasons(self, obj: CashoutRequest) -> list[str]:
        return self._reasons(obj)


def _hold_context(host_id: int) -> dict[str, list[str]]:
    # Hold reasons are stored in English and marked for translation where they are placed.
    reasons = selectors.cashout_hold_reasons(host_ids=[host_id]).get(host_id, [])
    return {"hold_reasons": [gettext(reason) for reason in reasons]}


class CashoutListCreateApi(APIView):
    pagination_class = FeedCursorPagination  # GET; the POST answers one cashout

    class InputSerializer(StrictInputSerializer):
        coins = serializers.IntegerField(min_value=1, max_value=10**12)
        destination_id = IdField(
            required=False,
            help_text=(
                "One of your verified payout destinations; without it, your only verified one "
                "(`payout_destination_required` when you have several)."
            ),
        )

    @extend_schema(responses={200: CashoutSerializer(many=True)}, operation_id="wallet_cashout_list")
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        host = request_user(request)
        page = paginator.paginate_queryset(selectors.cashout_list(host=host), request, view=self)
        return paginator.get_paginated_response(CashoutSerializer(page, many=True, context=_hold_context(host.pk)).data)

    @extend_schema(request=InputSerializer, responses={201: CashoutSerializer}, operation_id="wallet_cashout_create")
    @idempotent(required=True)
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        host = request_user(request)
        cashout = services.cashout_request(
            host=host, coins=data.validated_data["coins"], destination_id=data.validated_data.get("destination_id")
        )
        return Response(CashoutSerializer(cashout, context=_hold_context(host.pk)).data, status=status.HTTP_201_CREATED)


class SpendingControlsApi(APIView):
    """The signed-in user's spending controls (coins spent on gifts and games). Lowering a limit or
    pausing acts at once; a raise or an unpause is scheduled after the cool-off (the *_next fields)."""

    class InputSerializer(StrictInputSerializer):
        daily_limit = serializers.IntegerField(min_value=0, max_value=10**12, required=False)
        monthly_limit = serializers.IntegerField(min_value=0, max_value=10**12, required=False)
        paused = serializers.BooleanField(required=False)

    class OutputSerializer(serializers.Serializer):
        daily_limit = serializers.IntegerField()
        monthly_limit = serializers.IntegerField()
        paused = serializers.BooleanField()
        daily_limit_next = serializers.IntegerField(allow_null=True, help_text="A raise waiting for the cool-off.")
        daily_limit_next_at = serializers.DateTimeField(allow_null=True)
        monthly_limit_next = serializers.IntegerField(allow_null=True, help_text="A raise waiting for the cool-off.")
        monthly_limit_next_at = serializers.DateTimeField(allow_null=True)
        unpause_at = serializers.DateTimeField(allow_null=True, help_text="When a requested unpause takes effect.")
        spent_today = serializers.IntegerField(source="spent_day")
        spent_this_month = serializers.IntegerField(source="spent_month")
        day_resets_at = serializers.SerializerMethodField()
        month_resets_at = serializers.SerializerMethodField()
        cool_off_hours = serializers.SerializerMethodField()

        def get_day_resets_at(self, controls: SpendingControls) -> datetime:
            return selectors.day_resets_at(controls.tally_day or timezone.localdate())

        def get_month_resets_at(self, controls: SpendingControls) -> datetime:
            return selectors.month_resets_at(controls.tally_day or timezone.localdate())

        def get_cool_off_hours(self, controls: SpendingControls) -> int:
            return settings.SPENDING_COOL_OFF_HOURS

    @extend_schema(responses={200: OutputSerializer}, operation_id="wallet_spending_controls")
    def get(self, request: Request) -> Response:
        controls = selectors.spending_controls_get(user_id=request_user(request).pk)
        return Response(self.OutputSerializer(controls).data)

    @extend_schema(
        request=InputSerializer, responses={200: OutputSerializer}, operation_id="wallet_spending_controls_update"
    )
    def patch(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        controls = services.spending_controls_update(user_id=request_user(request).pk, **data.validated_data)
        return Response(self.OutputSerializer(controls).data)


class KycSerializer(serializers.Serializer):
    """The latest identity check: `status` none (never submitted), pending, approved or rejected
    (`review_note` says why; submit again).

    The face match (ID photo against the age-check selfie) is for Finance only: neither its verdict
    nor its distance is shown, so nobody can tune a borrowed or edited ID photo until it passes.
    """

    status = serializers.CharField()
    legal_name = serializers.CharField()
    document_type = serializers.CharField()
    review_note = serializers.CharField()
    created_at = serializers.DateTimeField(allow_null=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)


_NO_KYC = {
    "status": "none",
    "legal_name": "",
    "document_type": "",
    "review_note": "",
    "created_at": None,
    "reviewed_at": None,
}


class KycApi(APIView):
    """A host's identity check for payouts: ID details, a photo of the ID and a selfie, reviewed by
    Finance side by side before the first cash-out. The images are never shown back."""

    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(StrictInputSerializer):
        legal_name = serializers.CharField(max_length=120, help_text="As printed on the ID.")
        document_type = serializers.ChoiceField(choices=KycSubmission.DocumentType.choices)
        document_number = serializers.RegexField(r"^[0-9A-Za-z/-]{4,40}$", max_length=40)
        date_of_birth = serializers.DateField(help_text="As on the ID; must be the account's date of birth.")
        id_image = serializers.ImageField(help_text="A photo of the ID (JPEG, PNG or WebP).")
        selfie = serializers.ImageField(help_text="A selfie, facing the camera.")

    @extend_schema(responses={200: KycSerializer}, operation_id="wallet_kyc")
    def get(self, request: Request) -> Response:
        latest = selectors.kyc_latest(user=request_user(request))
        return Response(KycSerializer(latest).data if latest else _NO_KYC)

    @extend_schema(
        request=request_per_media_type(InputSerializer, "multipart/form-data"),
        responses={201: KycSerializer},
        operation_id="wallet_kyc_submit",
    )
    def post(self, request: Request) -> Response:
        # Both images together: a cap per request, before anything reads the body.
        limit_upload_size(request._request, max_bytes=settings.MODERATION_SELFIE_MAX_BYTES, too_large=KycImageTooLarge)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        submission = services.kyc_submit(user=request_user(request), **data.validated_data)
        return Response(KycSerializer(submission).data, status=status.HTTP_201_CREATED)


class PayoutDestinationListCreateApi(APIView):
    """The host's payout destinations. A new one gets a small credit (NPR 1 to 9.99) in the next payout
    batch of its rail, whose remark reads "HaloBuzz code NNNNNN": type that code in to confirm it."""

    pagination_class = FeedCursorPagination  # GET; the POST answers one destination

    class InputSerializer(StrictInputSerializer):
        rail = serializers.ChoiceField(choices=PayoutDestination.Rail.choices)
        account_id = serializers.CharField(
            max_length=40, help_text="eSewa/Khalti: the wallet's mobile number (98XXXXXXXX); bank: the account number."
        )
        account_name = serializers.RegexField(
            r"^[^\W\d_][\w .'-]{1,119}$", help_text="The name the account is registered under."
        )
        bank_code = serializers.RegexField(r"^[0-9A-Za-z]{2,20}$", required=False, default="")
        branch_code = serializers.RegexField(r"^[0-9A-Za-z]{1,20}$", required=False, default="")

        def validate(self, attrs: dict) -> dict:
            if attrs["rail"] == PayoutDestination.Rail.BANK:
                errors = {
                    f: [gettext("Required for a bank account.")]
                    for f in ("bank_code", "branch_code")
                    if not attrs.get(f)
                }
                if not re.fullmatch(r"[0-9]{6,24}", attrs["account_id"]):
                    errors["account_id"] = [gettext("A bank account number is 6 to 24 digits.")]
                if errors:
                    raise serializers.ValidationError(errors)
            elif not re.fullmatch(r"9[78][0-9]{8}", attrs["account_id"]):
                raise serializers.ValidationError(
                    {"account_id": [gettext("An eSewa or Khalti ID is the wallet's 10-digit mobile number.")]}
                )
            return attrs

    @extend_schema(responses={200: PayoutDestinationSerializer(many=True)}, operation_id="wallet_payout_destinations")
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        destinations = selectors.payout_destination_list(host=request_user(request))
        page = paginator.paginate_queryset(destinations, request, view=self)
        return paginator.get_paginated_response(PayoutDestinationSerializer(page, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: PayoutDestinationSerializer},
        operation_id="wallet_payout_destination_add",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        destination = services.payout_destination_add(host=request_user(request), **data.validated_data)
        return Response(PayoutDestinationSerializer(destination).data, status=status.HTTP_201_CREATED)


class PayoutDestinationDetailApi(APIView):
    @extend_schema(
        responses={204: None},
        operation_id="wallet_payout_destination_remove",
        description=(
            "Remove one of your payout destinations. Refused (`payout_destination_in_use`) while a cash-out to it "
            "waits or is in a payout batch. Removing the default makes the latest verified destination left the "
            "default."
        ),
    )
    def delete(self, request: Request, destination_id: int) -> Response:
        services.payout_destination_remove(host=request_user(request), destination_id=destination_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PayoutDestinationDefaultApi(APIView):
    @extend_schema(
        request=None,
        responses={200: PayoutDestinationSerializer},
        operation_id="wallet_payout_destination_default_set",
        description=(
            "Make this verified payout destination your default: a cash-out that names no destination goes "
            "there. Refused (`payout_destination_not_verified`, 409) before its code is confirmed; another "
            "host's destination is `payout_destination_not_found` (404)."
        ),
    )
    def post(self, request: Request, destination_id: int) -> Response:
        destination = services.payout_destination_default_set(host=request_user(request), destination_id=destination_id)
        return Response(PayoutDestinationSerializer(destination).data)


class PayoutDestinationConfirmApi(APIView):
    class InputSerializer(StrictInputSerializer):
        code = serializers.RegexField(r"^[0-9]{6}$", help_text="The 6 digits in the confirmation credit's remark.")

    @extend_schema(
        request=InputSerializer,
        responses={200: PayoutDestinationSerializer},
        operation_id="wallet_payout_destination_confirm",
    )
    def post(self, request: Request, destination_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        destination = services.payout_destination_confirm(
            host=request_user(request), destination_id=destination_id, code=data.validated_data["code"]
        )
        return Response(PayoutDestinationSerializer(destination).data)
