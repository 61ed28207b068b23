import io
from collections.abc import Callable
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from apps.accounts.models import User
from apps.wallet.models import CashoutRequest, CoinGrant, KycSubmission, PayoutBatch
from apps.wallet.services import (
    cashout_request,
    coins_grant,
    coins_spend,
    kyc_decide,
    kyc_submit,
    payout_batch_create,
    payout_destination_add,
    payout_destination_confirm,
    payout_line_mark_paid,
)
from apps.wallet.types import AccountKind

DEMO_GRANTS = {"viewer": 50_000, "viewer2": 20_000, "host": 5_000, "host2": 5_000}
DEMO_ESEWA_ID = "9806800001"  # an eSewa sandbox wallet


def _demo_png(name: str, colour: tuple[int, int, int]) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), colour).save(out, format="PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def _seed_payout(*, host: User, viewer: User, finance: User) -> str:
    """The demo host's identity check (approved), a confirmed eSewa ID and one paid cash-out, all through
    the services Finance and the host use; only the hold period is cut short so the payout shows as paid."""
    if KycSubmission.objects.filter(user=host).exists():
        return "Demo payout: already there"
    # Earnings come from viewers' coins; here the demo viewer's coins go to the host in one spend.
    coins_spend(payer_id=viewer.pk, credits=[(host.pk, AccountKind.HOST_EARNINGS, 3_000)], kind="demo", ref="earnings")
    submission = kyc_submit(
        user=host,
        legal_name="Demo Host",
        document_type=KycSubmission.DocumentType.CITIZENSHIP,
        document_number="27-01-75-00001",
        date_of_birth=host.date_of_birth,  # type: ignore[arg-type]  # the demo host has one
        id_image=_demo_png("id.png", (210, 200, 170)),
        selfie=_demo_png("selfie.png", (190, 150, 130)),
    )
    # The demo's ID photo is a plain colour (no face to match): Finance's approval says so, as it must.
    kyc_decide(
        submission_id=submission.pk, reviewer=finance, approve=True, note="Demo data: plain images, no face to compare"
    )
    destination = payout_destination_add(
        host=host, rail=PayoutBatch.Rail.ESEWA, account_id=DEMO_ESEWA_ID, account_name="Demo Host"
    )
    batch = payout_batch_create(rail=PayoutBatch.Rail.ESEWA, created_by=finance)
    assert batch is not None  # noqa: S101  # the new destination's confirmation credit is due
    payout_line_mark_paid(line_id=batch.lines.get().pk, provider_ref="DEMO-ESW-CONFIRM", by=finance)
    payout_destination_confirm(host=host, destination_id=destination.pk, code=destination.verify_code)
    cashout = cashout_request(host=host, coins=1_000, destination_id=destination.pk)
    CashoutRequest.objects.filter(pk=cashout.pk).update(payable_at=timezone.now() - timedelta(seconds=1))
    batch = payout_batch_create(rail=PayoutBatch.Rail.ESEWA, created_by=finance)
    assert batch is not None  # noqa: S101
    payout_line_mark_paid(line_id=batch.lines.get().pk, provider_ref="DEMO-ESW-0001", by=finance)
    return f"Demo payout: host KYC'd, eSewa {DEMO_ESEWA_ID} confirmed, cash-out #{cashout.pk} paid (DEMO-ESW-0001)"


def seed(*, out: Callable[[str], None]) -> None:
    admin = User.objects.get(username="admin")
    for username, coins in DEMO_GRANTS.items():
        user = User.objects.get(username=username)
        if not CoinGrant.objects.filter(user=user, reason="demo coins").exists():
            coins_grant(user=user, amount=coins, reason="demo coins", granted_by=admin)
    out("Demo coins: " + ", ".join(f"{u} {c}" for u, c in DEMO_GRANTS.items()))
    out(
        _seed_payout(
            host=User.objects.get(username="host"),
            viewer=User.objects.get(username="viewer"),
            finance=User.objects.get(username="finance"),
        )
    )
