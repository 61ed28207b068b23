from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import request_user
from apps.core.idempotency import idempotent
from apps.core.serializers import IdField, StrictInputSerializer
from apps.og import selectors, services


class OgTierSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    level = serializers.IntegerField()
    name = serializers.CharField()
    price_coins = serializers.IntegerField()
    duration_days = serializers.IntegerField()
    daily_bonus_coins = serializers.IntegerField()
    badge = serializers.CharField()
    entrance_effect = serializers.CharField()
    og_only_gifts = serializers.BooleanField()
    chat_color = serializers.CharField()


class OgTierListApi(APIView):
    """The OG tiers on sale, lowest level first: a whole catalogue (small and fixed), answered as one
    array, not paginated."""

    @extend_schema(responses={200: OgTierSerializer(many=True)}, operation_id="og_tier_list")
    def get(self, request: Request) -> Response:
        return Response(OgTierSerializer(selectors.og_tier_list(), many=True).data)


class OgBuyApi(APIView):
    class InputSerializer(StrictInputSerializer):
        tier = IdField(help_text="Id of the tier to buy, renew or upgrade to.")

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        kind = serializers.CharField(help_text="buy, renew or upgrade")
        tier = OgTierSerializer()
        price_coins = serializers.IntegerField()
        credit_coins = serializers.IntegerField()
        charged_coins = serializers.IntegerField()
        expires_at = serializers.DateTimeField()
        created_at = serializers.DateTimeField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer}, operation_id="og_buy")
    @idempotent(required=True)
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        purchase = services.og_buy(user=request_user(request), tier_id=data.validated_data["tier"])
        return Response(self.OutputSerializer(purchase).data, status=status.HTTP_201_CREATED)


class OgMeApi(APIView):
    class OutputSerializer(serializers.Serializer):
        active = serializers.BooleanField()
        status = serializers.CharField(allow_null=True, help_text="active, expired, or null if never a member")
        tier = OgTierSerializer(allow_null=True)
        started_at = serializers.DateTimeField(allow_null=True)
        expires_at = serializers.DateTimeField(allow_null=True)
        upgrade_credit_coins = serializers.IntegerField(
            help_text="What the unused time is worth towards an upgrade now."
        )

    @extend_schema(responses={200: OutputSerializer}, operation_id="og_me")
    def get(self, request: Request) -> Response:
        membership = selectors.og_membership_get(user_id=request_user(request).pk)
        now = timezone.now()
        if membership is None:
            body = {"active": False, "status": None, "tier": None, "started_at": None, "expires_at": None}
            return Response({**body, "upgrade_credit_coins": 0})
        active = membership.status == membership.Status.ACTIVE and membership.expires_at > now
        return Response(
            self.OutputSerializer(
                {
                    "active": active,
                    "status": membership.status if active else membership.Status.EXPIRED,
                    "tier": membership.tier,
                    "started_at": membership.started_at,
                    "expires_at": membership.expires_at,
                    "upgrade_credit_coins": services.og_upgrade_credit(membership=membership, now=now),
                }
            ).data
        )
