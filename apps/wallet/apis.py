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
from apps.core.serializers import StrictInputSerializer
from apps.wallet import selectors, services
from apps.wallet.models import CashoutRequest, SpendingControls


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


class CashoutSerializer(serializers.Serializer):
    """A cash-out request. While it waits, `held` marks one that cannot be paid until a review of the
    host's account ends, and `hold_reasons` says why."""

    # context["hold_reasons"]: the host's active hold reasons, translated (a waiting cash-out shows them)

    id = serializers.IntegerField()
    coins = serializers.IntegerField()
    paisa_per_coin = serializers.IntegerField()
    amount_paisa = serializers.IntegerField()
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
        cashout = services.cashout_request(host=host, coins=data.validated_data["coins"])
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
