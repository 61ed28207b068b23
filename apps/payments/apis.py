from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import request_user
from apps.core.exceptions import IdempotencyKeyInvalid, NotFound
from apps.core.idempotency import HEADER, request_fingerprint
from apps.core.pagination import FeedCursorPagination
from apps.core.serializers import StrictInputSerializer
from apps.payments import selectors, services
from apps.payments.models import CoinPackage, Gateway, Payment


class PackageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    price_paisa = serializers.IntegerField()
    coins = serializers.IntegerField()
    bonus_coins = serializers.IntegerField()


class CheckoutSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["esewa_form", "khalti_redirect"])
    form_url = serializers.URLField(required=False, help_text="eSewa: POST the fields here.")
    # DRF's metaclass moves declared fields off the class, so this does not replace Serializer.fields.
    fields = serializers.DictField(child=serializers.CharField(), required=False)  # type: ignore[assignment]
    handoff_url = serializers.URLField(required=False, help_text="eSewa: open in a web view; it posts the form.")
    payment_url = serializers.URLField(required=False, help_text="Khalti: open in a web view.")
    pidx = serializers.CharField(required=False)


class PaymentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    gateway = serializers.CharField()
    status = serializers.CharField()
    package_id = serializers.IntegerField(allow_null=True)
    package_name = serializers.CharField()
    amount_paisa = serializers.IntegerField()
    coins = serializers.IntegerField()
    bonus_coins = serializers.IntegerField()
    merchant_ref = serializers.CharField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


class PaymentWithCheckoutSerializer(PaymentSerializer):
    checkout = CheckoutSerializer(allow_null=True)


def _with_checkout(payment: Payment) -> dict:
    return {**PaymentSerializer(payment).data, "checkout": selectors.payment_checkout(payment=payment)}


class PackageListApi(APIView):
    """The coin packages on sale: a whole catalogue (small and fixed), answered as one array, not paginated."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: PackageSerializer(many=True)}, operation_id="payments_package_list")
    def get(self, request: Request) -> Response:
        return Response(PackageSerializer(selectors.package_list(), many=True).data)


class PaymentListCreateApi(APIView):
    pagination_class = FeedCursorPagination  # GET; the POST answers one payment

    class InputSerializer(StrictInputSerializer):
        package = serializers.PrimaryKeyRelatedField(queryset=CoinPackage.objects.filter(active=True))
        gateway = serializers.ChoiceField(choices=Gateway.choices)

    @extend_schema(responses={200: PaymentSerializer(many=True)}, operation_id="payments_list")
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.payment_list(user=request_user(request)), request, view=self)
        return paginator.get_paginated_response(PaymentSerializer(page, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: PaymentWithCheckoutSerializer},
        parameters=[OpenApiParameter(HEADER, str, OpenApiParameter.HEADER, required=True)],
        operation_id="payments_create",
    )
    def post(self, request: Request) -> Response:
        # Idempotency is the payment row's unique (user, key), not core.idempotent: that decorator
        # holds a transaction around the view, and the Khalti call must not run inside one.
        key = request.headers.get(HEADER)
        if not key or len(key) > 255 or not key.isprintable():
            raise IdempotencyKeyInvalid()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment, replayed = services.payment_create(
            user=request_user(request),
            package=data.validated_data["package"],
            gateway=data.validated_data["gateway"],
            idempotency_key=key,
            fingerprint=request_fingerprint(request),
        )
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return Response(_with_checkout(payment), status=status.HTTP_201_CREATED, headers=headers)


class PaymentDetailApi(APIView):
    @extend_schema(responses={200: PaymentWithCheckoutSerializer}, operation_id="payments_detail")
    def get(self, request: Request, payment_id: int) -> Response:
        payment = selectors.payment_get(user=request_user(request), payment_id=payment_id)
        if payment is None:
            raise NotFound(gettext_lazy("No such payment."))
        return Response(_with_checkout(payment))


class PaymentVerifyApi(APIView):
    @extend_schema(request=None, responses={202: PaymentSerializer}, operation_id="payments_verify")
    def post(self, request: Request, payment_id: int) -> Response:
        payment = services.payment_verify_request(user=request_user(request), payment_id=payment_id)
        payment.refresh_from_db()  # eager mode has already verified it
        return Response(PaymentSerializer(payment).data, status=status.HTTP_202_ACCEPTED)
