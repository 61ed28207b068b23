"""The KYC face match: the face on a host's ID photo against the descriptor kept from their age-check
selfie, with the real dlib model and real photos (scikit-image's astronaut, matplotlib's Grace Hopper,
both public domain). It flags for Finance; it never decides."""

import io
from pathlib import Path

import matplotlib
import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework import serializers

from apps.accounts.faces import FaceDescriber, face_describer, face_distance
from apps.accounts.models import FaceDescriptor, User
from apps.accounts.selectors import user_face_descriptor_get
from apps.accounts.services import user_anonymise
from apps.core.model_files import ModelUnavailable
from apps.moderation.selectors import moderation_settings_get
from apps.moderation.services import moderation_settings_cache_clear
from apps.wallet.models import KycSubmission
from apps.wallet.services import kyc_decide, kyc_face_match
from tests.accounts.factories import UserFactory
from tests.moderation.factories import upload
from tests.moderation.images import ASTRONAUT, ASTRONAUT_FACE, COFFEE
from tests.wallet.factories import KycSubmissionFactory, finance_user

pytestmark = pytest.mark.django_db

KYC = "/api/v1/wallet/kyc/"
AGE = "/api/v1/moderation/age-verification/"
HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"  # US Navy photo, public domain


@pytest.fixture(autouse=True)
def _media(settings, isolated_media):
    settings.ADMIN_REQUIRE_2FA = False


# Head-and-shoulders crops, as an ID photo is framed (left, top, right, bottom).
PORTRAIT = {ASTRONAUT: (120, 20, 330, 270), HOPPER: (100, 60, 440, 470)}


def _id_card(*faces: Path) -> bytes:
    """A phone photo of an ID card: each portrait cropped, shrunk to 150x180 and pasted on a card,
    the whole re-encoded as JPEG."""
    card = Image.new("RGB", (1000, 630), (228, 222, 205))
    for n, path in enumerate(faces):
        portrait = Image.open(path).convert("RGB").crop(PORTRAIT[path]).resize((150, 180))
        card.paste(portrait, (60 + n * 320, 180))
    out = io.BytesIO()
    card.save(out, format="JPEG", quality=75)
    return out.getvalue()


def _form(host: User, id_image: bytes) -> dict:
    return {
        "legal_name": "Sita Sharma",
        "document_type": "citizenship",
        "document_number": "27-01-75-01234",
        "date_of_birth": host.date_of_birth.isoformat(),  # type: ignore[union-attr]
        "id_image": SimpleUploadedFile("id.jpg", id_image, content_type="image/jpeg"),
        "selfie": upload(ASTRONAUT),
    }


@pytest.fixture
def astronaut_host(auth_client) -> User:
    """A host whose selfie age check (through the API) was the astronaut portrait."""
    host = UserFactory(age_verification=User.AgeVerification.UNVERIFIED)
    response = auth_client(host).post(AGE, {"selfie": upload(ASTRONAUT)}, format="multipart")
    assert response.status_code == 201 and response.json()["age_verification"] == "verified"
    host.refresh_from_db()
    return host


def _submit(auth_client, django_capture_on_commit_callbacks, host: User, id_image: bytes) -> KycSubmission:
    with django_capture_on_commit_callbacks(execute=True):  # the face match task, run inline
        response = auth_client(host).post(KYC, _form(host, id_image), format="multipart")
    assert response.status_code == 201, response.json()
    return KycSubmission.objects.get(user=host, status=KycSubmission.Status.PENDING)


# --- The descriptor kept at the age check --------------------------------------------------------


def test_the_age_check_keeps_the_face_descriptor_not_the_selfie(astronaut_host):
    kept = user_face_descriptor_get(user_id=astronaut_host.pk)
    assert kept is not None and len(kept.descriptor) == 128
    assert kept.model_version.startswith("dlib-hog-5pt/resnet-v1@55533b28a958")
    assert not astronaut_host.age_checks.get().selfie  # the adult's selfie itself is not stored
    # and it is the descriptor of the face the age model judged (its box, not another detection)
    (found,) = face_describer().describe(Image.open(ASTRONAUT))
    assert found.box == tuple(ASTRONAUT_FACE) and face_distance(found.descriptor, kept.descriptor) < 0.01


def test_a_held_age_check_keeps_it_too_for_when_a_moderator_verifies(auth_client):
    # given a margin so wide that the astronaut (about 33) counts as "possibly a minor"
    row = moderation_settings_get()
    row.age_safety_margin_years = 20
    row.save()
    moderation_settings_cache_clear()
    user = UserFactory(age_verification=User.AgeVerification.UNVERIFIED)
    response = auth_client(user).post(AGE, {"selfie": upload(ASTRONAUT)}, format="multipart")
    # then the account waits for review and the descriptor is kept for a later KYC
    assert response.json()["age_verification"] == "pending_review"
    assert user_face_descriptor_get(user_id=user.pk) is not None


def test_descriptors_tell_the_same_face_from_another():
    describer = face_describer()
    (astronaut,) = describer.describe(Image.open(ASTRONAUT))
    (hopper,) = describer.describe(Image.open(HOPPER))
    # the same face, cropped, shrunk to 180 px and re-encoded as a poor JPEG
    out = io.BytesIO()
    Image.open(ASTRONAUT).convert("RGB").crop((100, 20, 350, 260)).resize((180, 173)).save(out, "JPEG", quality=60)
    (copy,) = describer.describe(Image.open(out))
    assert face_distance(astronaut.descriptor, astronaut.descriptor) == 0.0
    assert face_distance(astronaut.descriptor, copy.descriptor) < 0.3
    assert face_distance(astronaut.descriptor, hopper.descriptor) > 0.6
    assert describer.describe(Image.open(COFFEE)) == []


def test_a_missing_model_file_names_the_install_command(tmp_path):
    with pytest.raises(ModelUnavailable, match=r"resnet_model_v1\.dat: run `python manage.py models_install`"):
        FaceDescriber(model_dir=str(tmp_path))


def test_anonymising_the_account_deletes_the_descriptor(astronaut_host):
    user_anonymise(user=astronaut_host)
    assert not FaceDescriptor.objects.filter(user=astronaut_host).exists()


# --- The match at KYC submission, through the API ------------------------------------------------


def test_the_id_of_the_same_person_matches(auth_client, django_capture_on_commit_callbacks, astronaut_host):
    # when the host submits an ID photo with their face on it (small, cropped, JPEG)
    submission = _submit(auth_client, django_capture_on_commit_callbacks, astronaut_host, _id_card(ASTRONAUT))
    # then the submission records a match, with its distance, for Finance
    assert submission.face_match == KycSubmission.FaceMatch.MATCH
    assert submission.face_distance is not None and submission.face_distance < 0.3
    assert submission.face_checked_at is not None and submission.face_model_version.startswith("dlib-hog-5pt")
    # and the host's own view says nothing of it (no oracle to tune a photo against)
    body = auth_client(astronaut_host).get(KYC).json()
    assert body["status"] == "pending"
    assert set(body) == {"status", "legal_name", "document_type", "review_note", "created_at", "reviewed_at"}


def test_the_id_of_another_person_is_flagged(auth_client, django_capture_on_commit_callbacks, astronaut_host):
    submission = _submit(auth_client, django_capture_on_commit_callbacks, astronaut_host, _id_card(HOPPER))
    assert submission.face_match == KycSubmission.FaceMatch.NO_MATCH
    assert submission.face_distance is not None and submission.face_distance > 0.6
    # a flag, not a decision: it waits for Finance
    assert submission.status == KycSubmission.Status.PENDING


def test_the_threshold_is_a_setting(settings, auth_client, django_capture_on_commit_callbacks, astronaut_host):
    settings.KYC_FACE_MATCH_THRESHOLD = 0.05
    submission = _submit(auth_client, django_capture_on_commit_callbacks, astronaut_host, _id_card(ASTRONAUT))
    assert submission.face_match == KycSubmission.FaceMatch.NO_MATCH and 0.05 < submission.face_distance < 0.3


def test_an_id_photo_without_a_face(auth_client, django_capture_on_commit_callbacks, astronaut_host):
    submission = _submit(auth_client, django_capture_on_commit_callbacks, astronaut_host, COFFEE.read_bytes())
    assert (submission.face_match, submission.face_distance) == (KycSubmission.FaceMatch.NO_FACE, None)


def test_several_faces_on_the_id_photo(auth_client, django_capture_on_commit_callbacks, astronaut_host):
    # e.g. the ID held up next to someone's own face: the closest is recorded, Finance looks
    submission = _submit(auth_client, django_capture_on_commit_callbacks, astronaut_host, _id_card(HOPPER, ASTRONAUT))
    assert submission.face_match == KycSubmission.FaceMatch.SEVERAL_FACES
    assert submission.face_distance is not None and submission.face_distance < 0.3


def test_no_verified_selfie_to_compare_with(auth_client, django_capture_on_commit_callbacks):
    # given a host verified without a kept descriptor (before descriptors were kept)
    host = UserFactory()
    submission = _submit(auth_client, django_capture_on_commit_callbacks, host, _id_card(ASTRONAUT))
    assert (submission.face_match, submission.face_distance) == (KycSubmission.FaceMatch.NO_SELFIE, None)
    assert submission.face_model_version == ""


def test_a_decided_submission_is_not_compared_again(astronaut_host):
    submission = KycSubmissionFactory(user=astronaut_host, id_image__from_file=io.BytesIO(_id_card(HOPPER)))
    assert kyc_face_match(submission_id=submission.pk).face_match == KycSubmission.FaceMatch.PENDING


# --- Finance decides, on the record --------------------------------------------------------------


def test_approving_without_a_match_needs_a_reason(auth_client, django_capture_on_commit_callbacks, astronaut_host):
    submission = _submit(auth_client, django_capture_on_commit_callbacks, astronaut_host, _id_card(HOPPER))
    finance = finance_user()
    with pytest.raises(serializers.ValidationError) as refused:
        kyc_decide(submission_id=submission.pk, reviewer=finance, approve=True)
    assert "Different person?" in str(refused.value.detail["note"][0])
    submission.refresh_from_db()
    assert submission.status == KycSubmission.Status.PENDING and submission.reviewed_by is None
    decided = kyc_decide(submission_id=submission.pk, reviewer=finance, approve=True, note="Older ID photo; called")
    assert (decided.status, decided.reviewed_by_id, decided.review_note) == (
        "approved",
        finance.pk,
        decided.review_note,
    )
    assert decided.review_note == "Older ID photo; called"


def _admin_action(client, action: str, pk: int, **extra):
    return client.post(
        "/admin/wallet/kycsubmission/", {"action": action, ACTION_CHECKBOX_NAME: [str(pk)], **extra}, follow=True
    )


def test_finance_sees_the_verdict_beside_the_documents_and_decides(
    client, auth_client, django_capture_on_commit_callbacks, astronaut_host
):
    submission = _submit(auth_client, django_capture_on_commit_callbacks, astronaut_host, _id_card(HOPPER))
    finance = finance_user()
    client.force_login(finance)
    # the change page: both images, then the verdict and the distance against the threshold
    html = client.get(f"/admin/wallet/kycsubmission/{submission.pk}/change/").content.decode()
    assert html.count("X-Amz-Signature=") == 2
    assert "Different person?" in html and f"distance {submission.face_distance:.3f}" in html
    assert "same person below 0.6" in html
    assert html.index("ID photo and selfie") < html.index("Different person?")
    # the list can be filtered on the verdict
    listed = client.get("/admin/wallet/kycsubmission/", {"face_match": "no_match"}).content.decode()
    assert f"/admin/wallet/kycsubmission/{submission.pk}/change/" in listed
    # a plain approval is refused with a message; the one with a reason goes through and is recorded
    refused = _admin_action(client, "approve", submission.pk)
    assert "did not find the same person" in refused.content.decode()
    assert KycSubmission.objects.get(pk=submission.pk).status == KycSubmission.Status.PENDING
    _admin_action(client, "approve_with_note", submission.pk, apply="1", **{f"value_{submission.pk}": "Met in person"})
    submission.refresh_from_db()
    assert (submission.status, submission.reviewed_by_id, submission.review_note) == (
        KycSubmission.Status.APPROVED,
        finance.pk,
        "Met in person",
    )


def test_a_match_is_approved_with_the_plain_action(
    client, auth_client, django_capture_on_commit_callbacks, astronaut_host
):
    submission = _submit(auth_client, django_capture_on_commit_callbacks, astronaut_host, _id_card(ASTRONAUT))
    finance = finance_user()
    client.force_login(finance)
    _admin_action(client, "approve", submission.pk)
    submission.refresh_from_db()
    assert (submission.status, submission.reviewed_by_id) == (KycSubmission.Status.APPROVED, finance.pk)


def test_finance_can_compare_again_from_the_admin(client, astronaut_host):
    # given a waiting submission whose task never ran (the worker was down)
    submission = KycSubmissionFactory(
        user=astronaut_host, status=KycSubmission.Status.PENDING, id_image__from_file=io.BytesIO(_id_card(ASTRONAUT))
    )
    client.force_login(finance_user())
    page = _admin_action(client, "compare_faces", submission.pk).content.decode()
    assert "Same person" in page
    assert KycSubmission.objects.get(pk=submission.pk).face_match == KycSubmission.FaceMatch.MATCH


def test_staff_outside_finance_cannot_compare(client, astronaut_host):
    submission = KycSubmissionFactory(
        user=astronaut_host, status=KycSubmission.Status.PENDING, id_image__from_file=io.BytesIO(_id_card(ASTRONAUT))
    )
    client.force_login(UserFactory(is_staff=True))
    _admin_action(client, "compare_faces", submission.pk)
    assert KycSubmission.objects.get(pk=submission.pk).face_match == KycSubmission.FaceMatch.PENDING


def _waiting(host: User, id_image: bytes) -> KycSubmission:
    return KycSubmissionFactory(
        user=host, status=KycSubmission.Status.PENDING, id_image__from_file=io.BytesIO(id_image)
    )


def test_an_id_photo_that_cannot_be_decoded_is_unreadable(astronaut_host):
    submission = _waiting(astronaut_host, _id_card(ASTRONAUT)[:5_000])  # a truncated JPEG
    checked = kyc_face_match(submission_id=submission.pk)
    assert (checked.face_match, checked.face_distance) == (KycSubmission.FaceMatch.UNREADABLE, None)


def test_an_id_photo_with_too_many_pixels_is_not_decoded(settings, astronaut_host):
    # given a limit below the card's 1000 x 630 pixels (the same limit selfies have)
    settings.MODERATION_IMAGE_MAX_PIXELS = 600_000
    submission = _waiting(astronaut_host, _id_card(ASTRONAUT))
    assert kyc_face_match(submission_id=submission.pk).face_match == KycSubmission.FaceMatch.UNREADABLE
