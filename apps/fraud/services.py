"""Every write of the fraud module: running the rules into cases, and Finance's decisions.

An open case holds the cash-outs of every host it names (apps.wallet cash-out holds, source
"fraud_case", ref = case id); deciding the case releases them.
"""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from apps.accounts.models import User
from apps.accounts.services import require_not_own
from apps.fraud import rules
from apps.fraud.exceptions import FraudCaseNotOpen
from apps.fraud.models import FraudCase
from apps.fraud.rules import Cashout, Finding, Thresholds, TopUp
from apps.payments.selectors import topups_completed
from apps.wallet.selectors import cashout_list_since, cashout_requested_ids, user_transfers
from apps.wallet.services import cashout_hold_place, cashout_holds_release, cashout_reject, finance_staff_require

logger = logging.getLogger(__name__)

HOLD_SOURCE = "fraud_case"
# What the host reads beside a held cash-out (translated when shown: apps.wallet.apis).
HOLD_REASONS: dict[str, str] = {
    FraudCase.Rule.NEW_ACCOUNT_BURST: gettext_noop("Recent large gifts from new accounts are being reviewed."),
    FraudCase.Rule.GIFT_RING: gettext_noop("Gifts passed around a group of accounts are being reviewed."),
    FraudCase.Rule.TOPUP_CASHOUT_MIRROR: gettext_noop("This cash-out mirrors recent top-ups and is being reviewed."),
}


def _joined(user_ids: set[int]) -> dict[int, datetime]:
    return dict(User.objects.filter(pk__in=user_ids).values_list("pk", "date_joined"))


def fraud_findings(*, now: datetime, thresholds: Thresholds) -> list[Finding]:
    """Every rule over the windows ending at `now`."""
    t = thresholds
    burst = user_transfers(since=now - t.burst_window, until=now, min_coins=t.burst_gift_coins)
    findings = rules.new_account_burst(
        transfers=burst, joined=_joined({x.payer_id for x in burst} | {x.payee_id for x in burst}), t=t
    )
    findings += rules.gift_ring(transfers=user_transfers(since=now - t.ring_window, until=now), t=t)

    cashouts = [
        Cashout(cashout_id=c.pk, host_id=c.host_id, coins=c.coins, amount_paisa=c.amount_paisa, at=c.created_at)
        for c in cashout_list_since(since=now - t.mirror_window, until=now)
        if c.coins >= t.mirror_min_coins
    ]
    if cashouts:
        since = min(c.at for c in cashouts) - t.mirror_window
        hosts = {c.host_id for c in cashouts}
        topups = [
            TopUp(payment_id=pk, user_id=user_id, coins=coins, amount_paisa=paisa, at=at)
            for pk, user_id, coins, paisa, at in topups_completed(since=since, until=now)
        ]
        transfers = [x for x in user_transfers(since=since, until=now) if x.payee_id in hosts]
        findings += rules.topup_cashout_mirror(cashouts=cashouts, transfers=transfers, topups=topups, t=t)
    return findings


def _decided_since(finding: Finding) -> bool:
    """A decided case already covers everything this finding saw (nothing happened after the decision)."""
    return FraudCase.objects.filter(
        rule=finding.rule, subject_key=finding.subject_key, decided_at__gte=finding.last_event_at
    ).exists()


@transaction.atomic
def fraud_case_open(*, finding: Finding) -> FraudCase | None:
    """Open a case for the finding (or refresh the open one on the same subject) and hold the cash-outs
    of its hosts. None when a decision already covered all of its evidence."""
    if _decided_since(finding):
        return None
    fields = {"summary": finding.summary, "evidence": finding.evidence, "last_event_at": finding.last_event_at}
    case = (
        FraudCase.objects.select_for_update()
        .filter(rule=finding.rule, subject_key=finding.subject_key, status=FraudCase.Status.OPEN)
        .first()
    )
    if case is None:
        try:
            with transaction.atomic():  # a concurrent run opening the same subject wins the unique constraint
                case = FraudCase.objects.create(rule=finding.rule, subject_key=finding.subject_key, **fields)
            logger.warning("fraud case opened", extra={"case_id": case.pk, "rule": finding.rule})
        except IntegrityError:
            case = FraudCase.objects.select_for_update().get(
                rule=finding.rule, subject_key=finding.subject_key, status=FraudCase.Status.OPEN
            )
    if case.last_event_at != finding.last_event_at or case.evidence != finding.evidence:
        for name, value in fields.items():
            setattr(case, name, value)
        case.save(update_fields=[*fields, "updated_at"])
    case.hosts.add(*finding.host_ids)
    for host_id in finding.host_ids:
        cashout_hold_place(host_id=host_id, source=HOLD_SOURCE, ref=str(case.pk), reason=HOLD_REASONS[case.rule])
    return case


def fraud_rules_run(*, now: datetime | None = None) -> list[FraudCase]:
    """Run every rule now; open or refresh a case per finding (each in its own transaction).
    Safe to rerun: an open case on the same subject is refreshed, not duplicated."""
    findings = fraud_findings(now=now or timezone.now(), thresholds=Thresholds.from_settings())
    cases = [case for finding in findings if (case := fraud_case_open(finding=finding)) is not None]
    logger.info("fraud rules ran", extra={"findings": len(findings), "cases": len(cases)})
    return cases


@transaction.atomic
def fraud_case_decide(*, case_id: int, by: User, confirmed: bool, note: str) -> FraudCase:
    """Finance decides an open case and releases its cash-out holds. Confirmed fraud first rejects the
    hosts' waiting cash-outs (their coins return to earnings, where a claw back can reach them)."""
    finance_staff_require(user=by, action="decide fraud cases")
    case = FraudCase.objects.select_for_update().get(pk=case_id)
    if case.status != FraudCase.Status.OPEN:
        raise FraudCaseNotOpen(details={"case_id": case.pk, "status": case.status})
    host_ids = list(case.hosts.values_list("pk", flat=True))
    for host_id in host_ids:
        require_not_own(actor=by, owner_id=host_id)
    note = note.strip()[:300] or ("Confirmed fraud" if confirmed else "Cleared")
    if confirmed:
        for cashout_id in cashout_requested_ids(host_ids=host_ids):
            cashout_reject(request_id=cashout_id, reviewer=by, note=f"Fraud case #{case.pk}: {note}")
    case.status = FraudCase.Status.CONFIRMED if confirmed else FraudCase.Status.CLEARED
    case.decided_by = by
    case.decided_at = timezone.now()
    case.decision_note = note
    case.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "updated_at"])
    cashout_holds_release(source=HOLD_SOURCE, ref=str(case.pk), by=by, note=f"case {case.status}: {note}")
    logger.info("fraud case decided", extra={"case_id": case.pk, "status": case.status, "by": by.pk})
    return case
