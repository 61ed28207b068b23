import calendar
import re
from datetime import date, timedelta
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import request_user
from apps.core.serializers import StrictInputSerializer
from apps.hosts import selectors, statements
from apps.hosts.selectors import Period

ROLLING_PERIODS = {"7d": 7, "30d": 30, "90d": 90}
MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")
MAX_DAYS = 366
EARLIEST_MONTH = date(2020, 1, 1)


def month_period(value: str) -> Period:
    """The calendar month `YYYY-MM` (Nepal time) up to the current one; a ValidationError otherwise."""
    match = MONTH_PATTERN.match(value)
    month = None
    if match and 1 <= int(match[2]) <= 12:
        month = date(int(match[1]), int(match[2]), 1)
    if month is None:
        raise serializers.ValidationError(gettext_lazy("Give a month as YYYY-MM, e.g. 2026-11."))
    if not EARLIEST_MONTH <= month <= timezone.localdate().replace(day=1):
        raise serializers.ValidationError(gettext_lazy("Choose a month from 2020-01 up to the current month."))
    return Period(first=month, last=month.replace(day=calendar.monthrange(month.year, month.month)[1]))


class PeriodSerializer(StrictInputSerializer):
    """`period` (7d, 30d, 90d: the last days up to today; or a month YYYY-MM), or `from`/`to` dates."""

    period = serializers.CharField(required=False, max_length=10)
    # "from" is a keyword in Python: the field is named from_ and reads the "from" parameter.
    from_ = serializers.DateField(required=False)
    to = serializers.DateField(required=False)

    def to_internal_value(self, data: Any) -> Any:
        data = {("from_" if k == "from" else k): v for k, v in data.items()}
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:
            if isinstance(error.detail, dict) and "from_" in error.detail:
                error.detail["from"] = error.detail.pop("from_")
            raise

    def validate_period(self, value: str) -> str:
        if value not in ROLLING_PERIODS:
            month_period(value)
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        today = timezone.localdate()
        if "period" in attrs:
            if "from_" in attrs or "to" in attrs:
                raise serializers.ValidationError({"period": [gettext_lazy("Give either 'period' or 'from'/'to'.")]})
            value = attrs["period"]
            if value in ROLLING_PERIODS:
                attrs["range"] = Period(first=today - timedelta(days=ROLLING_PERIODS[value] - 1), last=today)
            else:
                attrs["range"] = month_period(value)
            return attrs
        if "from_" not in attrs and "to" not in attrs:
            attrs["range"] = Period(first=today - timedelta(days=29), last=today)
            return attrs
        last = attrs.get("to", today)
        first = attrs.get("from_", last - timedelta(days=29))
        if first > last:
            raise serializers.ValidationError({"from": [gettext_lazy("Must not be after 'to'.")]})
        if (last - first).days >= MAX_DAYS:
            raise serializers.ValidationError({"from": [gettext_lazy("A period covers at most 366 days.")]})
        attrs["range"] = Period(first=first, last=last)
        return attrs


class _TotalsSerializer(serializers.Serializer):
    gift_sends = serializers.IntegerField(help_text="Sends received (one send may carry several gifts).")
    gifts = serializers.IntegerField()
    coins_earned = serializers.IntegerField(help_text="The host's share, as credited to their earnings.")


class HostEarningsApi(APIView):
    """The signed-in host's earnings at a glance: per stream, per day, the ledger and the cash-outs."""

    class OutputSerializer(serializers.Serializer):
        class PeriodOut(serializers.Serializer):
            from_ = serializers.DateField(source="first")
            to = serializers.DateField(source="last")
            time_zone = serializers.CharField()

            def get_fields(self) -> dict[str, serializers.Field]:
                fields = super().get_fields()
                fields["from"] = fields.pop("from_")
                return fields

        class Totals(_TotalsSerializer):
            streams = serializers.IntegerField(help_text="Streams started in the period.")

        class Ledger(serializers.Serializer):
            opening_balance = serializers.IntegerField(help_text="Earnings balance when the period began.")
            closing_balance = serializers.IntegerField(help_text="Opening balance plus every movement.")
            gifts = serializers.IntegerField()
            cashouts_requested = serializers.IntegerField(help_text="Moved out to cash-outs (negative).")
            cashouts_returned = serializers.IntegerField(help_text="Rejected cash-outs given back.")
            other = serializers.IntegerField(help_text="Any other adjustment (e.g. a refunded top-up clawed back).")
            movements = serializers.DictField(
                child=serializers.IntegerField(), help_text="Signed coins per entry kind."
            )

        class StreamRow(_TotalsSerializer):
            id = serializers.IntegerField(source="stream.id")
            title = serializers.CharField(source="stream.title")
            status = serializers.CharField(source="stream.status")
            started_at = serializers.DateTimeField(source="stream.started_at", allow_null=True)
            ended_at = serializers.DateTimeField(source="stream.ended_at", allow_null=True)
            peak_viewers = serializers.IntegerField(source="stream.peak_viewers")
            unique_viewers = serializers.IntegerField(source="stream.unique_viewers")

        class DayRow(_TotalsSerializer):
            date = serializers.DateField(source="day")
            streams = serializers.IntegerField(help_text="Streams that started that day.")
            peak_viewers = serializers.IntegerField(help_text="The largest peak of those streams.")

        class Payouts(serializers.Serializer):
            class StatusTotals(serializers.Serializer):
                count = serializers.IntegerField()
                coins = serializers.IntegerField()
                amount_paisa = serializers.IntegerField()

            class Line(serializers.Serializer):
                id = serializers.IntegerField()
                requested_at = serializers.DateTimeField()
                coins = serializers.IntegerField()
                amount_paisa = serializers.IntegerField(help_text="Before tax.")
                tax_paisa = serializers.IntegerField(help_text="Tax withheld at the rate of the request.")
                net_paisa = serializers.IntegerField(help_text="What the host receives.")
                status = serializers.CharField()
                reviewed_at = serializers.DateTimeField(allow_null=True)
                provider_ref = serializers.CharField(help_text="The bank's or wallet's reference, once paid.")

            by_status = serializers.DictField(
                child=StatusTotals(),
                help_text="requested, batched (sent for payment), approved (paid), rejected, failed (returned).",
            )
            cashouts = Line(many=True, source="lines")
            tax_withheld_paisa = serializers.IntegerField(
                allow_null=True, help_text="Withheld from the paid cash-outs (never null since tax is recorded)."
            )

        period = PeriodOut()
        totals = Totals()
        ledger = Ledger()
        streams = StreamRow(many=True)
        days = DayRow(many=True)
        payouts = Payouts()

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "period",
                str,
                description="7d, 30d or 90d (the last days up to today) or a month YYYY-MM; default 30d",
            ),
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day, Nepal time (instead of period)"),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, inclusive (default: today)"),
        ],
        responses={200: OutputSerializer},
        operation_id="host_earnings",
    )
    def get(self, request: Request) -> Response:
        params = PeriodSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        host = request_user(request)
        selectors.host_require(user=host)
        earnings = selectors.host_earnings(host=host, period=params.validated_data["range"])
        period = earnings.period
        data = {
            "period": {"first": period.first, "last": period.last, "time_zone": selectors.local_zone().key},
            "totals": earnings.totals,
            "ledger": earnings.ledger,
            "streams": earnings.streams,
            "days": earnings.days,
            "payouts": earnings.payouts,
        }
        return Response(self.OutputSerializer(data).data)


class HostStatementPdfApi(APIView):
    """The signed-in host's monthly earnings statement, as a PDF to print or show a bank."""

    @extend_schema(
        parameters=[OpenApiParameter("month", str, OpenApiParameter.PATH, description="YYYY-MM, Nepal time")],
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The statement (PDF)"),
        },
        operation_id="host_statement_pdf",
    )
    def get(self, request: Request, month: str) -> HttpResponse:
        try:
            period = month_period(month)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({"month": error.detail}) from error
        host = request_user(request)
        selectors.host_require(user=host)
        earnings = selectors.host_earnings(host=host, period=period)
        response = HttpResponse(statements.statement_pdf(earnings), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="halobuzz-statement-{period.first:%Y-%m}.pdf"'
        return response
