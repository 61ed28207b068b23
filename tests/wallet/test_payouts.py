"""Host KYC, payout destinations (penny drop), payout batches per rail with tax and a hold period,
through the API and the admin as Finance uses it; every step a balanced ledger entry."""

import csv
import io
import uuid

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from PIL import Image

from apps.accounts.exceptions import OwnRequest
from apps.core.exceptions import PermissionDenied
from apps.wallet.exceptions import InsufficientEarnings, PayoutLineSettled
from apps.wallet.models import (
    Account,
    CashoutRequest,
    JournalEntry,
    KycSubmission,
    PayoutBatch,
    PayoutDestination,
    PayoutLine,
)
from apps.wallet.selectors import account_available, ledger_audit, user_balances
from apps.wallet.services import (
    account_for_user,
    cashout_hold_place,
    cashout_request,
    kyc_decide,
    ledger_post,
    payout_batch_create,
    payout_line_mark_failed,
    payout_line_mark_paid,
    platform_account,
)
from tests.accounts.factories import UserFactory
from tests.wallet.factories import KycSubmissionFactory, PayoutDestinationFactory, finance_user, payout_ready

pytestmark = pytest.mark.django_db

KYC = "/api/v1/wallet/kyc/"
DESTINATIONS = "/api/v1/wallet/payout-destinations/"
CASHOUTS = "/api/v1/wallet/cashouts/"


@pytest.fixture(autouse=True)
def _terms(settings, isolated_media):
    settings.CASHOUT_MIN_COINS, settings.CASHOUT_PAISA_PER_COIN = 100, 50
    settings.CASHOUT_TAX_BASIS_POINTS, settings.CASHOUT_HOLD_HOURS = 1500, 0
    settings.ADMIN_REQUIRE_2FA = False


def _earn(host, coins: int) -> None:
    ledger_post(
        kind="test_earnings",
        ref=uuid.uuid4().hex,
        postings=[
            (platform_account(kind=Account.Kind.REVENUE), -coins),
            (account_for_user(user_id=host.pk, kind=Account.Kind.HOST_EARNINGS), coins),
        ],
    )


def _earnings(host) -> int:
    return user_balances(user=host)["earnings"]


def _platform(kind: str) -> int:
    return account_available(account=platform_account(kind=kind))


def _png(name: str):
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 120, 90)).save(out, format="PNG")
    out.seek(0)
    out.name = name
    return out


def _kyc_form(host, **overrides):
    return {
        "legal_name": "Sita Sharma",
        "document_type": "citizenship",
        "document_number": "27-01-75-01234",
        "date_of_birth": host.date_of_birth.isoformat(),
        "id_image": _png("id.png"),
        "selfie": _png("selfie.png"),
        **overrides,
    }


def _admin(client, user):
    client.force_login(user)
    return client


def _action(client, model: str, action: str, pks, **extra):
    return client.post(
        f"/admin/wallet/{model}/", {"action": action, ACTION_CHECKBOX_NAME: [str(pk) for pk in pks], **extra}
    )


def _cash_out(auth_client, host, coins: int, destination_id: int | None):
    return auth_client(host).post(
        CASHOUTS,
        {"coins": coins} if destination_id is None else {"coins": coins, "destination_id": destination_id},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )


# --- KYC ----------------------------------------------------------------------------------------


def test_kyc_is_submitted_then_approved_by_finance_in_the_admin(auth_client, client):
    # given a host with a verified age
    host = UserFactory()
    assert auth_client(host).get(KYC).json()["status"] == "none"

    # when they submit their ID and selfie
    response = auth_client(host).post(KYC, _kyc_form(host), format="multipart")

    # then it waits for Finance, and a second submission is refused meanwhile
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "pending"
    again = auth_client(host).post(KYC, _kyc_form(host), format="multipart")
    assert again.status_code == 409 and again.json()["code"] == "kyc_already_submitted"
    submission = KycSubmission.objects.get(user=host)

    # when Finance opens it: the ID and the selfie side by side, through signed links only
    finance = finance_user()
    page = _admin(client, finance).get(f"/admin/wallet/kycsubmission/{submission.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "ID photo and selfie" in html and html.count("<img ") == 2
    assert html.count("X-Amz-Signature=") == 2  # the private bucket's presigned links, nothing public

    # and approves it with the admin action: these plain-colour images were never face-matched, so a
    # plain approval is refused and the approval takes a reason (tests/wallet/test_kyc_face_match.py
    # has real faces)
    _action(client, "kycsubmission", "approve", [submission.pk])
    assert KycSubmission.objects.get(pk=submission.pk).status == KycSubmission.Status.PENDING
    _action(
        client, "kycsubmission", "approve_with_note", [submission.pk], apply="1", **{f"value_{submission.pk}": "Seen"}
    )

    # then the decision is recorded with who, when and why
    submission.refresh_from_db()
    assert (submission.status, submission.reviewed_by_id) == (KycSubmission.Status.APPROVED, finance.pk)
    assert submission.reviewed_at is not None and submission.review_note == "Seen"
    assert auth_client(host).get(KYC).json()["status"] == "approved"


def test_finance_rejects_with_a_reason_and_the_host_submits_again(auth_client, client):
    host = UserFactory()
    auth_client(host).post(KYC, _kyc_form(host), format="multipart")
    submission = KycSubmission.objects.get(user=host)
    _admin(client, finance_user())

    # when Finance picks "reject": first a form asking the reason, then the decision
    form = _action(client, "kycsubmission", "reject", [submission.pk])
    assert form.status_code == 200 and b"reason" in form.content
    _action(client, "kycsubmission", "reject", [submission.pk], apply="1", **{f"value_{submission.pk}": "ID blurred"})

    # then the host sees why and may submit again (a new row: the decided one stays as it was)
    body = auth_client(host).get(KYC).json()
    assert (body["status"], body["review_note"]) == ("rejected", "ID blurred")
    assert auth_client(host).post(KYC, _kyc_form(host), format="multipart").status_code == 201
    assert KycSubmission.objects.filter(user=host).count() == 2


def test_kyc_refuses_a_date_of_birth_other_than_the_account_s(auth_client):
    host = UserFactory()
    response = auth_client(host).post(KYC, _kyc_form(host, date_of_birth="1990-02-02"), format="multipart")
    assert response.status_code == 400 and "date_of_birth" in response.json()["details"]
    assert not KycSubmission.objects.exists()


@pytest.mark.parametrize("role", ["user", "staff", "host_under_review"])
def test_only_finance_sees_and_decides_kyc(client, role):
    host = UserFactory()
    submission = KycSubmissionFactory(user=host, status=KycSubmission.Status.PENDING)
    actor = {"user": UserFactory(), "staff": UserFactory(is_staff=True), "host_under_review": host}[role]
    if role == "host_under_review":
        actor.is_staff = True
        actor.save()
    _admin(client, actor)
    assert client.get(f"/admin/wallet/kycsubmission/{submission.pk}/change/").status_code in (302, 403)
    _action(client, "kycsubmission", "approve", [submission.pk])
    submission.refresh_from_db()
    assert submission.status == KycSubmission.Status.PENDING


def test_finance_cannot_approve_their_own_kyc():
    finance = finance_user()
    submission = KycSubmissionFactory(user=finance, status=KycSubmission.Status.PENDING)
    with pytest.raises(OwnRequest):
        kyc_decide(submission_id=submission.pk, reviewer=finance, approve=True)


# --- Refusals -----------------------------------------------------------------------------------


def test_a_user_without_kyc_is_refused_a_destination_and_a_cash_out(auth_client):
    user = UserFactory()
    _earn(user, 500)
    destination = PayoutDestinationFactory(host=user)

    added = auth_client(user).post(
        DESTINATIONS, {"rail": "esewa", "account_id": "9806800001", "account_name": "Ram"}, format="json"
    )
    cashed = _cash_out(auth_client, user, 200, destination.pk)

    assert added.status_code == 403 and added.json()["code"] == "kyc_required"
    assert cashed.status_code == 403 and cashed.json()["code"] == "kyc_required"
    assert _earnings(user) == 500 and not CashoutRequest.objects.exists()


def test_a_non_host_with_kyc_has_no_earnings_to_cash_out(auth_client):
    viewer = UserFactory()
    response = _cash_out(auth_client, viewer, 200, payout_ready(viewer))
    assert response.status_code == 409 and response.json()["code"] == "insufficient_earnings"
    assert not CashoutRequest.objects.exists() and ledger_audit() == []


def test_a_host_cannot_use_or_confirm_another_host_s_destination(auth_client):
    host, other = UserFactory(), UserFactory()
    _earn(host, 500)
    payout_ready(host)
    theirs = payout_ready(other)
    awaiting = PayoutDestinationFactory(host=other, status=PayoutDestination.Status.AWAITING_CODE)

    cashed = _cash_out(auth_client, host, 200, theirs)
    confirmed = auth_client(host).post(f"{DESTINATIONS}{awaiting.pk}/confirm/", {"code": "123456"}, format="json")

    assert cashed.status_code == 404 and cashed.json()["code"] == "payout_destination_not_found"
    assert confirmed.status_code == 404 and confirmed.json()["code"] == "payout_destination_not_found"
    awaiting.refresh_from_db()
    assert awaiting.status == PayoutDestination.Status.AWAITING_CODE and _earnings(host) == 500


def test_an_unconfirmed_destination_cannot_be_paid_to(auth_client):
    host = UserFactory()
    _earn(host, 500)
    payout_ready(host)
    pending = PayoutDestinationFactory(host=host, status=PayoutDestination.Status.PENDING_DEPOSIT)
    response = _cash_out(auth_client, host, 200, pending.pk)
    assert response.status_code == 409 and response.json()["code"] == "payout_destination_not_verified"


def test_a_cash_out_naming_no_destination_goes_to_the_hosts_only_verified_one(auth_client):
    # given a host with earnings and one verified destination (an app built before destinations existed)
    host, poor = UserFactory(), UserFactory()
    _earn(host, 500)
    only = payout_ready(host)
    payout_ready(poor)
    PayoutDestination.objects.filter(host=poor).update(status=PayoutDestination.Status.PENDING_DEPOSIT)

    # when it asks for a cash-out without naming one, then adds a second verified destination and asks again
    first = _cash_out(auth_client, host, 200, None)
    PayoutDestinationFactory(host=host, account_id="9806800002")
    second = _cash_out(auth_client, host, 200, None)
    unverified = _cash_out(auth_client, poor, 200, None)

    # then the first went to the only one; the second must choose, and nothing was taken from its earnings
    assert first.status_code == 201, first.content
    assert CashoutRequest.objects.get(pk=first.json()["id"]).destination_id == only
    assert second.status_code == 400 and second.json()["code"] == "payout_destination_required"
    assert _earnings(host) == 300
    assert unverified.status_code == 409 and unverified.json()["details"] == {"status": "none"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rail": "esewa", "account_id": "12345", "account_name": "Ram"}, "account_id"),
        ({"rail": "bank", "account_id": "0012345678", "account_name": "Ram"}, "bank_code"),
        ({"rail": "khalti", "account_id": "9800000000", "account_name": "=HYPERLINK(1)"}, "account_name"),
    ],
)
def test_bad_destinations_are_refused_field_by_field(auth_client, body, field):
    host = UserFactory()
    payout_ready(host)
    response = auth_client(host).post(DESTINATIONS, body, format="json")
    assert response.status_code == 400 and field in response.json()["details"]


# --- Destinations: the penny drop ---------------------------------------------------------------


def test_a_bank_destination_is_confirmed_by_a_credit_carrying_a_code(auth_client, client, settings):
    settings.PAYOUT_VERIFY_MAX_ATTEMPTS = 3
    host = UserFactory()
    KycSubmissionFactory(user=host)
    finance = finance_user()
    body = {
        "rail": "bank",
        "account_id": "00112233445566",
        "account_name": "Sita Sharma",
        "bank_code": "NABIL",
        "branch_code": "001",
    }

    # when the host adds a bank account
    added = auth_client(host).post(DESTINATIONS, body, format="json")
    assert added.status_code == 201, added.json()
    destination = PayoutDestination.objects.get(pk=added.json()["id"])
    assert added.json()["status"] == "pending_deposit" and "verify_code" not in added.json()

    # and Finance builds the bank batch in the admin and downloads its file
    built = _admin(client, finance).post("/admin/wallet/payoutbatch/add/", {"rail": "bank"})
    assert built.status_code == 302, built.content.decode()[-3000:]
    batch = PayoutBatch.objects.get(rail="bank")
    file = _action(client, "payoutbatch", "download_file", [batch.pk])
    rows = list(csv.DictReader(io.StringIO(file.content.decode())))

    # then the file carries the small credit with the code in its remark
    assert file["Content-Type"].startswith("text/csv")
    assert rows == [
        {
            "line_id": str(batch.lines.get().pk),
            "bank_code": "NABIL",
            "branch_code": "001",
            "account_number": "00112233445566",
            "account_name": "Sita Sharma",
            "amount_npr": f"{destination.verify_amount_paisa // 100}.{destination.verify_amount_paisa % 100:02d}",
            "remark": f"HaloBuzz code {destination.verify_code}",
        }
    ]
    assert 100 <= destination.verify_amount_paisa <= 999

    # when Finance marks the credit paid and the host types a wrong code, then the right one
    line = batch.lines.get()
    _action(client, "payoutline", "mark_paid", [line.pk], apply="1", **{f"value_{line.pk}": "NABIL-TXN-1"})
    wrong_code = "000000" if destination.verify_code != "000000" else "111111"
    wrong = auth_client(host).post(f"{DESTINATIONS}{destination.pk}/confirm/", {"code": wrong_code}, format="json")
    right = auth_client(host).post(
        f"{DESTINATIONS}{destination.pk}/confirm/", {"code": destination.verify_code}, format="json"
    )

    # then the wrong one is counted and refused, the right one confirms the destination
    assert wrong.status_code == 400 and wrong.json()["code"] == "payout_code_wrong"
    assert wrong.json()["details"]["attempts_left"] == 2
    assert right.status_code == 200 and right.json()["status"] == "verified"
    batch.refresh_from_db()
    assert batch.status == PayoutBatch.Status.CLOSED


def test_too_many_wrong_codes_fail_the_destination(auth_client, settings):
    settings.PAYOUT_VERIFY_MAX_ATTEMPTS = 2
    host = UserFactory()
    destination = PayoutDestinationFactory(host=host, status=PayoutDestination.Status.AWAITING_CODE)
    url = f"{DESTINATIONS}{destination.pk}/confirm/"
    codes = [auth_client(host).post(url, {"code": "999999"}, format="json") for _ in range(3)]
    assert [r.json()["code"] for r in codes] == [
        "payout_code_wrong",
        "payout_code_wrong",
        "payout_destination_not_awaiting_code",
    ]
    destination.refresh_from_db()
    assert destination.status == PayoutDestination.Status.FAILED


# --- Cash-outs through a batch ------------------------------------------------------------------


def test_a_cash_out_is_paid_in_a_batch_through_the_admin_with_tax_withheld(auth_client, client, settings):
    # given a KYC'd host with a confirmed eSewa ID and 1000 coins earned
    settings.CASHOUT_HOLD_HOURS = 72
    host = UserFactory()
    _earn(host, 1000)
    destination_id = payout_ready(host)
    finance = finance_user()
    _admin(client, finance)

    # when they cash out 700 coins
    response = _cash_out(auth_client, host, 700, destination_id)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["tax_coins"], body["tax_paisa"], body["net_paisa"], body["amount_paisa"]) == (105, 5250, 29750, 35000)
    assert body["destination"]["id"] == destination_id and body["status"] == "requested"

    # then during the hold period nothing is due
    client.post("/admin/wallet/payoutbatch/add/", {"rail": "esewa"})
    assert not PayoutBatch.objects.exists()

    # when the hold period is over and Finance builds, downloads and marks the batch paid
    CashoutRequest.objects.update(payable_at=CashoutRequest.objects.get().created_at)
    client.post("/admin/wallet/payoutbatch/add/", {"rail": "esewa"})
    batch = PayoutBatch.objects.get()
    rows = list(
        csv.DictReader(io.StringIO(_action(client, "payoutbatch", "download_file", [batch.pk]).content.decode()))
    )
    assert [(r["esewa_id"], r["amount_npr"]) for r in rows] == [
        (PayoutDestination.objects.get(pk=destination_id).account_id, "297.50")
    ]
    assert CashoutRequest.objects.get().status == CashoutRequest.Status.BATCHED
    line = batch.lines.get()
    _action(client, "payoutline", "mark_paid", [line.pk], apply="1", **{f"value_{line.pk}": "ESW-0001"})

    # then the host's statement shows it paid with the provider's reference, and the ledger agrees
    listed = auth_client(host).get(CASHOUTS).json()["results"][0]
    assert (listed["status"], listed["provider_ref"], listed["net_paisa"]) == ("approved", "ESW-0001", 29750)
    assert _earnings(host) == 300
    assert (_platform(Account.Kind.PAYOUTS), _platform(Account.Kind.TAX_WITHHELD)) == (595, 105)
    assert _platform(Account.Kind.CASHOUT_HOLD) == 0
    assert ledger_audit() == []

    # when Finance marks it paid again with the same reference, nothing changes; another reference is refused
    entries = JournalEntry.objects.count()
    assert payout_line_mark_paid(line_id=line.pk, provider_ref="ESW-0001", by=finance).status == "paid"
    with pytest.raises(PayoutLineSettled):
        payout_line_mark_paid(line_id=line.pk, provider_ref="ESW-9999", by=finance)
    with pytest.raises(PayoutLineSettled):
        payout_line_mark_failed(line_id=line.pk, reason="late bounce", by=finance)
    assert JournalEntry.objects.count() == entries


def test_a_failed_line_returns_exactly_the_earnings_and_tax(auth_client, client):
    host = UserFactory()
    _earn(host, 1000)
    cashout = cashout_request(host=host, coins=999, destination_id=payout_ready(host))
    assert cashout.tax_coins == 150  # 149.85 rounded half up
    batch = payout_batch_create(rail="esewa", created_by=finance_user())
    line = batch.lines.get()

    # when Finance marks the line failed in the admin, with the provider's reason
    _admin(client, finance_user())
    _action(client, "payoutline", "mark_failed", [line.pk], apply="1", **{f"value_{line.pk}": "ID not found"})

    # then all 999 coins, tax included, are back, the batch closes and the audit is clean
    cashout.refresh_from_db()
    assert (cashout.status, cashout.review_note) == (CashoutRequest.Status.FAILED, "ID not found")
    assert _earnings(host) == 1000
    assert _platform(Account.Kind.CASHOUT_HOLD) == _platform(Account.Kind.TAX_WITHHELD) == 0
    assert JournalEntry.objects.filter(kind="cashout_failed", ref=str(cashout.pk)).count() == 1
    batch.refresh_from_db()
    assert batch.status == PayoutBatch.Status.CLOSED
    call_command("wallet_audit")
    # and failing it again changes nothing
    payout_line_mark_failed(line_id=line.pk, reason="again", by=finance_user())
    assert _earnings(host) == 1000 and ledger_audit() == []


def test_a_held_host_s_cash_out_stays_out_of_the_batch():
    host = UserFactory()
    _earn(host, 500)
    cashout_request(host=host, coins=300, destination_id=payout_ready(host))
    cashout_hold_place(host_id=host.pk, source="fraud_case", ref="1", reason="Under review")
    assert payout_batch_create(rail="esewa", created_by=finance_user()) is None
    assert CashoutRequest.objects.get().status == CashoutRequest.Status.REQUESTED


@pytest.mark.parametrize("role", ["user", "staff"])
def test_only_finance_builds_batches_and_settles_lines(role):
    host = UserFactory()
    _earn(host, 500)
    cashout_request(host=host, coins=300, destination_id=payout_ready(host))
    line = payout_batch_create(rail="esewa", created_by=finance_user()).lines.get()
    actor = UserFactory(is_staff=role == "staff")
    with pytest.raises(PermissionDenied):
        payout_batch_create(rail="esewa", created_by=actor)
    with pytest.raises(PermissionDenied):
        payout_line_mark_paid(line_id=line.pk, provider_ref="X", by=actor)
    with pytest.raises(PermissionDenied):
        payout_line_mark_failed(line_id=line.pk, reason="X", by=actor)
    line.refresh_from_db()
    assert line.status == PayoutLine.Status.PENDING


def test_finance_never_batches_or_settles_their_own_cash_out():
    finance = finance_user()
    _earn(finance, 500)
    cashout_request(host=finance, coins=300, destination_id=payout_ready(finance))
    assert payout_batch_create(rail="esewa", created_by=finance) is None
    line = payout_batch_create(rail="esewa", created_by=finance_user()).lines.get()
    with pytest.raises(OwnRequest):
        payout_line_mark_paid(line_id=line.pk, provider_ref="X", by=finance)


def test_non_finance_staff_cannot_reach_the_payout_admin(client):
    _admin(client, UserFactory(is_staff=True))
    for url in ("/admin/wallet/payoutbatch/", "/admin/wallet/payoutline/", "/admin/wallet/kycsubmission/"):
        assert client.get(url).status_code == 403
    client.post("/admin/wallet/payoutbatch/add/", {"rail": "esewa"})
    assert not PayoutBatch.objects.exists()


# --- Concurrency (PostgreSQL) -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_cash_outs_racing_cannot_overdraw_the_earnings(race):
    host = UserFactory()
    _earn(host, 1000)
    destination_id = payout_ready(host)

    results = race([lambda: cashout_request(host=host, coins=700, destination_id=destination_id)] * 2)

    assert sorted(type(r).__name__ for r in results) == ["CashoutRequest", "InsufficientEarnings"]
    assert isinstance(next(r for r in results if isinstance(r, Exception)), InsufficientEarnings)
    assert _earnings(host) == 300 and CashoutRequest.objects.count() == 1
    assert ledger_audit() == []


@pytest.mark.django_db(transaction=True)
def test_two_finance_users_building_batches_at_once_never_share_a_cash_out(race):
    hosts = [UserFactory() for _ in range(4)]
    for host in hosts:
        _earn(host, 500)
        cashout_request(host=host, coins=200, destination_id=payout_ready(host))
    a, b = finance_user(), finance_user()

    race(
        [
            lambda: payout_batch_create(rail="esewa", created_by=a),
            lambda: payout_batch_create(rail="esewa", created_by=b),
        ]
    )

    assert PayoutLine.objects.count() == 4
    assert PayoutLine.objects.values("cashout_id").distinct().count() == 4
    assert set(CashoutRequest.objects.values_list("status", flat=True)) == {CashoutRequest.Status.BATCHED}


@pytest.mark.django_db(transaction=True)
def test_double_mark_paid_racing_posts_once(race):
    host = UserFactory()
    _earn(host, 500)
    cashout_request(host=host, coins=400, destination_id=payout_ready(host))
    finance = finance_user()
    line = payout_batch_create(rail="esewa", created_by=finance).lines.get()

    results = race([lambda: payout_line_mark_paid(line_id=line.pk, provider_ref="ESW-7", by=finance)] * 4)

    assert not [r for r in results if isinstance(r, Exception)]
    assert JournalEntry.objects.filter(kind="cashout_paid").count() == 1
    assert _platform(Account.Kind.PAYOUTS) + _platform(Account.Kind.TAX_WITHHELD) == 400
    assert ledger_audit() == []
