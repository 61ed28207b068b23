"""What an account without a verified phone may not do (README "Accounts: what an unverified account
may do"): go live or schedule a stream, and anything that moves money out (identity check, payout
destinations, cash-outs). Checked in the services, answered 403 phone_verification_required."""

import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.accounts.exceptions import PhoneVerificationRequired
from apps.accounts.models import User
from apps.live.models import ScheduledStream, Stream
from apps.live.services import stream_go_live
from apps.wallet.models import CashoutRequest, KycSubmission, PayoutDestination
from apps.wallet.services import kyc_submit, payout_destination_add
from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.core.errors import assert_error
from tests.wallet.factories import KycSubmissionFactory, PayoutDestinationFactory, host_earns_from_a_gift

pytestmark = pytest.mark.django_db


def _signed_up_by_username(api_client, auth_client):
    """An account from the username sign-up: its email unproven, no phone."""
    body = {
        "username": f"u{uuid.uuid4().hex[:8]}",
        "password": TEST_PASSWORD,
        "email": f"{uuid.uuid4().hex[:8]}@example.com",
        "date_of_birth": "1995-04-01",
    }
    response = api_client.post("/api/v1/auth/signup/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["user"]["contact_verified"] is False
    user = User.objects.get(username=body["username"])
    user.age_verification = User.AgeVerification.VERIFIED  # the age check passed: only the phone is missing
    user.save(update_fields=["age_verification"])
    return user


def _refused(response, *, contact_verified: bool) -> None:
    assert_error(response, 403, "phone_verification_required")
    assert response.json()["details"] == {"next_step": "phone_verify", "contact_verified": contact_verified}


def test_an_unverified_account_cannot_go_live_or_schedule(api_client, auth_client):
    user = _signed_up_by_username(api_client, auth_client)
    client = auth_client(user)
    _refused(client.post("/api/v1/streams/", {"title": "hi"}, format="json"), contact_verified=False)
    starts_at = (timezone.now() + timedelta(hours=2)).isoformat()
    _refused(
        client.post("/api/v1/streams/schedules/", {"title": "later", "starts_at": starts_at}, format="json"),
        contact_verified=False,
    )
    assert not Stream.objects.exists() and not ScheduledStream.objects.exists()


def test_an_unverified_account_moves_no_money_out(api_client, auth_client):
    user = _signed_up_by_username(api_client, auth_client)
    host_earns_from_a_gift(user)
    KycSubmissionFactory(user=user)  # even with an identity check and a destination from before
    destination = PayoutDestinationFactory(host=user)
    client = auth_client(user)
    _refused(
        client.post(
            "/api/v1/wallet/payout-destinations/",
            {"rail": "esewa", "account_id": "9801234567", "account_name": "Sita Sharma"},
            format="json",
        ),
        contact_verified=False,
    )
    _refused(
        client.post(
            "/api/v1/wallet/cashouts/",
            {"coins": 100, "destination_id": destination.pk},
            format="json",
            HTTP_IDEMPOTENCY_KEY="c-1",
        ),
        contact_verified=False,
    )
    with pytest.raises(PhoneVerificationRequired):
        kyc_submit(
            user=user,
            legal_name="Sita Sharma",
            document_type=KycSubmission.DocumentType.CITIZENSHIP,
            document_number="27-01-75-00001",
            date_of_birth=user.date_of_birth,
            id_image=SimpleUploadedFile("id.png", b"not read"),
            selfie=SimpleUploadedFile("selfie.png", b"not read"),
        )
    assert not CashoutRequest.objects.exists()
    assert PayoutDestination.objects.filter(host=user).count() == 1
    assert KycSubmission.objects.filter(user=user).count() == 1


def test_a_verified_email_is_not_enough_for_payouts_or_going_live():
    user = UserFactory(phone=None, email_verified_at=timezone.now())
    with pytest.raises(PhoneVerificationRequired) as refused:
        payout_destination_add(host=user, rail="esewa", account_id="9801234567", account_name="Sita Sharma")
    assert refused.value.details["contact_verified"] is True
    with pytest.raises(PhoneVerificationRequired):
        stream_go_live(host=user, title="hi")


def test_verifying_the_phone_lifts_the_restriction(api_client, auth_client):
    user = _signed_up_by_username(api_client, auth_client)
    client = auth_client(user)
    _refused(client.post("/api/v1/streams/", {"title": "hi"}, format="json"), contact_verified=False)
    user.phone, user.phone_verified_at = "+9779801234567", timezone.now()  # as /me/phone/verify/ does
    user.save(update_fields=["phone", "phone_verified_at"])
    assert client.post("/api/v1/streams/", {"title": "hi"}, format="json").status_code == 201
