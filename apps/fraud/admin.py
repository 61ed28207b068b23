import json
from typing import cast

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from apps.accounts.models import User
from apps.core.admin import ReadOnlyAdminMixin
from apps.core.exceptions import DomainError
from apps.fraud import services
from apps.fraud.models import FraudCase


@admin.register(FraudCase)
class FraudCaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Finance's fraud queue: each case's readable summary and structured evidence; while it is open,
    the cash-outs of its hosts wait. Decide it with the actions."""

    list_display = ("id", "rule", "status", "host_list", "summary", "last_event_at", "opened_at", "decided_by")
    list_filter = ("status", "rule")
    search_fields = ("subject_key", "hosts__username", "summary")
    list_select_related = ("decided_by",)
    date_hierarchy = "opened_at"
    actions = ("clear", "confirm")
    fields = (
        "rule",
        "status",
        "subject_key",
        "host_list",
        "summary",
        "evidence_json",
        "last_event_at",
        "opened_at",
        "updated_at",
        "decided_by",
        "decided_at",
        "decision_note",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[FraudCase]:
        return super().get_queryset(request).prefetch_related("hosts")

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Decisions happen through the changelist's actions, which need the change permission; a case's
        # own page is for reading (view permission).
        return obj is None and request.user.has_perm("fraud.change_fraudcase")

    @admin.display(description="hosts (cash-outs held while open)")
    def host_list(self, obj: FraudCase) -> str:
        return format_html_join(", ", "{} (#{})", ((host.username, host.pk) for host in obj.hosts.all()))

    @admin.display(description="evidence")
    def evidence_json(self, obj: FraudCase) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.evidence, indent=2, sort_keys=True))

    def _decide(self, request: HttpRequest, queryset: QuerySet[FraudCase], *, confirmed: bool) -> None:
        done = 0
        verdict = "Confirmed fraud" if confirmed else "Cleared"
        for case_id in queryset.values_list("pk", flat=True):
            try:
                services.fraud_case_decide(
                    case_id=case_id, by=cast(User, request.user), confirmed=confirmed, note=f"{verdict} in admin"
                )
                done += 1
            except DomainError as exc:
                self.message_user(request, f"#{case_id}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{verdict}: {done} case(s); their cash-out holds are released.", messages.SUCCESS)

    @admin.action(description="Clear (not fraud): release the cash-outs", permissions=["change"])
    def clear(self, request: HttpRequest, queryset: QuerySet[FraudCase]) -> None:
        self._decide(request, queryset, confirmed=False)

    @admin.action(description="Confirm fraud: reject waiting cash-outs, release the holds", permissions=["change"])
    def confirm(self, request: HttpRequest, queryset: QuerySet[FraudCase]) -> None:
        self._decide(request, queryset, confirmed=True)
