from typing import ClassVar, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from apps.accounts.models import User
from apps.core.admin import ReadOnlyAdminMixin
from apps.core.exceptions import DomainError
from apps.payments import selectors, services
from apps.payments.models import CoinPackage, DailyTotal, GatewayExchange, Payment, PaymentReview


@admin.register(CoinPackage)
class CoinPackageAdmin(admin.ModelAdmin):
    list_display = ("name", "price_paisa", "coins", "bonus_coins", "active", "order")
    list_editable = ("active", "order")
    list_filter = ("active",)
    search_fields = ("name",)


class GatewayExchangeInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The raw exchange with the gateway, oldest first."""

    model = GatewayExchange
    fields = (
        "created_at",
        "kind",
        "method",
        "url",
        "request_data",
        "response_status",
        "response_body",
        "error",
        "outcome",
        "duration_ms",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("id",)


def _acting(request: HttpRequest) -> User:
    """The signed-in staff member (the admin lets no anonymous visitor reach an action)."""
    return cast(User, request.user)


def _npr(paisa: int) -> str:
    return f"{paisa // 100}.{paisa % 100:02d}"


class PaymentAdminBase(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Declared as any such tuple (not this one), so PaymentReviewAdmin may show other columns and filters.
    list_display: tuple[str, ...] = (
        "id",
        "user",
        "gateway",
        "status",
        "amount_npr",
        "coins",
        "bonus_coins",
        "merchant_ref",
        "gateway_txn_id",
        "created_at",
    )
    list_filter: ClassVar[tuple[str | tuple[str, type[admin.FieldListFilter]], ...]] = (
        "gateway",
        "status",
        ("created_at", admin.DateFieldListFilter),
        ("user", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("merchant_ref", "gateway_ref", "gateway_txn_id", "user__username")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    inlines = [GatewayExchangeInline]
    actions: tuple[str, ...] = ("reverify",)

    @admin.display(description="NPR", ordering="amount_paisa")
    def amount_npr(self, obj: Payment) -> str:
        return _npr(obj.amount_paisa)

    def has_reverify_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.reverify_payment")

    @admin.action(description="Ask the gateway again (re-verify)", permissions=["reverify"])
    def reverify(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        for payment_id in queryset.values_list("pk", flat=True):
            try:
                outcome = services.payment_reverify(payment_id=payment_id)
            except DomainError as exc:
                self.message_user(request, f"#{payment_id}: {exc.message}", messages.ERROR)
                continue
            text = f"#{payment_id}: {outcome.before} → {outcome.after}" + (f" ({outcome.note})" if outcome.note else "")
            self.message_user(request, text, messages.SUCCESS if outcome.after == "completed" else messages.INFO)


@admin.register(Payment)
class PaymentAdmin(PaymentAdminBase):
    pass


class SettleReasonForm(forms.Form):
    reason = forms.CharField(max_length=250, widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(PaymentReview)
class PaymentReviewAdmin(PaymentAdminBase):
    """Finance's queue: mismatches, ambiguous answers after retries, refunds of spent coins.

    A refund of spent coins is settled here: write off, claw back from hosts' earnings, or ban the
    payer, each one ledger entry with Finance's reason (asked on a confirmation page).
    """

    list_display: tuple[str, ...] = (
        "id",
        "user",
        "gateway",
        "amount_npr",
        "total_coins",
        "review_reason",
        "refund_unrecovered_at",
        "last_gateway_status",
        "updated_at",
    )
    list_filter = ("gateway", ("created_at", admin.DateFieldListFilter))
    actions = ("reverify", "settle_write_off", "settle_claw_back", "settle_ban")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Payment]:
        return selectors.review_queue().select_related("user")

    @admin.display(description="coins")
    def total_coins(self, obj: Payment) -> int:
        return obj.total_coins

    def has_settle_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.settle_refund")

    def _settle(self, request: HttpRequest, queryset: QuerySet[Payment], method: str) -> HttpResponse | None:
        form = SettleReasonForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": f"Settle refunded top-ups: {services.SettleMethod(method).label}",
                "opts": self.model._meta,
                "payments": queryset,
                "form": form,
                "action": request.POST.get("action", ""),
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "payments/admin_settle_refund.html", context)
        for payment_id in queryset.values_list("pk", flat=True):
            try:
                done = services.payment_refund_settle(
                    payment_id=payment_id,
                    method=method,
                    reason=form.cleaned_data["reason"],
                    by=cast(User, request.user),
                )
            except DomainError as exc:
                self.message_user(request, f"#{payment_id}: {exc.message}", messages.ERROR)
                continue
            text = (
                f"#{payment_id}: {done.from_payer} coins from the payer, {sum(done.from_hosts.values())} from hosts, "
                f"{done.written_off} written off (entry #{done.entry_id})"
            )
            self.message_user(request, text, messages.SUCCESS)
        return None

    @admin.action(description="Settle spent refund: write off", permissions=["settle"])
    def settle_write_off(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        return self._settle(request, queryset, services.SettleMethod.WRITE_OFF)

    @admin.action(description="Settle spent refund: claw back from hosts' earnings", permissions=["settle"])
    def settle_claw_back(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        return self._settle(request, queryset, services.SettleMethod.CLAW_BACK)

    @admin.action(description="Settle spent refund: ban the payer", permissions=["settle"])
    def settle_ban(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        return self._settle(request, queryset, services.SettleMethod.BAN)


@admin.register(DailyTotal)
class DailyTotalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Per day and gateway: attempts, completed payments, NPR received and coins issued."""

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        rows = selectors.daily_totals()
        for row in rows:
            row["npr"] = _npr(row["paisa"] or 0)
        context = {
            **self.admin_site.each_context(request),
            "title": "Daily totals per gateway",
            "opts": self.model._meta,
            "rows": rows,
        }
        return TemplateResponse(request, "payments/admin_daily_totals.html", context)


@admin.register(GatewayExchange)
class GatewayExchangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "gateway", "kind", "payment", "response_status", "error", "outcome", "created_at")
    list_filter = ("gateway", "kind")
    search_fields = ("payment__merchant_ref", "url", "outcome")
    list_select_related = ("payment",)
    date_hierarchy = "created_at"
