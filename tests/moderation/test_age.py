"""Selfie age checks with the test faces: adult passes, a likely minor waits for a moderator and an ID."""

import io

import pytest
import skimage.data
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from apps.accounts.exceptions import AgeCheckFailed, AgeRestricted
from apps.accounts.models import User
from apps.accounts.services import user_require_adult
from apps.live.models import Stream
from apps.moderation import services
from apps.moderation.age import AgeEstimator
from apps.moderation.model_files import ModelUnavailable
from apps.moderation.models import AgeCheck, Case, Enforcement, ModerationAction
from apps.moderation.selectors import moderation_settings_get
from tests.accounts.factories import UserFactory
from tests.moderation.factories import LiveStreamFactory, upload
from tests.moderation.images import ASTRONAUT, ASTRONAUT_FACE, COFFEE

pytestmark = pytest.mark.django_db
URL = "/api/v1/moderation/age-verification/"


def _png(image: Image.Image) -> SimpleUploadedFile:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return SimpleUploadedFile("selfie.png", buf.getvalue())


def _margin(years: int) -> None:
    row = moderation_settings_get()
    row.age_safety_margin_years = years
    row.save()
    services.moderation_settings_cache_clear()


@pytest.fixture
def unverified():
    return UserFactory(age_verification=User.AgeVerification.UNVERIFIED)


def test_adult_selfie_is_verified(auth_client, unverified):
    # given the default margin (18 + 7)
    # when the astronaut portrait (about 33) is submitted
    response = auth_client(unverified).post(URL, {"selfie": upload(ASTRONAUT)}, format="multipart")
    # then the account is verified at once and the selfie is not kept
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["outcome"] == "adult" and body["age_verification"] == "verified" and body["is_adult"] is True
    assert abs(body["estimated_age"] - 33.1) < 0.05 and body["face_box"] == ASTRONAUT_FACE
    assert body["model_version"].startswith("dlib-hog-5pt/age-v1.onnx@4f9f0075200b")
    check = AgeCheck.objects.get()
    assert not check.selfie and not Case.objects.exists()


def test_likely_minor_is_held_for_a_moderator(auth_client, unverified):
    # given a margin so wide that 33 counts as "possibly a minor", and the user is live
    _margin(20)
    stream = LiveStreamFactory(host=unverified)
    # when the selfie is submitted
    response = auth_client(unverified).post(URL, {"selfie": upload(ASTRONAUT)}, format="multipart")
    # then the account waits for review: blocked from live, gifts and games; the live stream ends
    assert response.status_code == 201
    assert response.json()["outcome"] == "likely_minor" and response.json()["age_verification"] == "pending_review"
    unverified.refresh_from_db()
    assert unverified.age_verification == User.AgeVerification.PENDING_REVIEW and not unverified.is_adult
    with pytest.raises(AgeCheckFailed):
        user_require_adult(user=unverified)
    assert Stream.objects.get(pk=stream.pk).status == Stream.Status.ENDED_BY_MODERATION
    # and the moderator queue has the selfie; the user is told why
    case = Case.objects.get(kind=Case.Kind.AGE_REVIEW)
    assert case.age_check.selfie and case.subject_id == unverified.pk
    hold = Enforcement.objects.get(user=unverified)
    assert hold.kind == Enforcement.Kind.AGE_HOLD and round(hold.model_score) == 33


def test_held_user_cannot_retry_the_selfie(auth_client, unverified):
    _margin(20)
    client = auth_client(unverified)
    client.post(URL, {"selfie": upload(ASTRONAUT)}, format="multipart")
    _margin(0)
    again = client.post(URL, {"selfie": upload(ASTRONAUT)}, format="multipart")
    assert again.status_code == 409 and again.json()["code"] == "age_check_not_allowed"
    assert AgeCheck.objects.count() == 1


def test_id_document_then_moderator_approves(auth_client, unverified):
    # given a held account
    _margin(20)
    client = auth_client(unverified)
    client.post(URL, {"selfie": upload(ASTRONAUT)}, format="multipart")
    # when the user uploads an ID photo and a moderator approves after looking at it
    doc = client.post(f"{URL}id-document/", {"document": upload(COFFEE)}, format="multipart")
    assert doc.status_code == 200 and doc.json()["id_document_uploaded"] is True
    moderator = UserFactory(is_staff=True, is_superuser=True)
    case = Case.objects.get(kind=Case.Kind.AGE_REVIEW)
    services.case_act(actor=moderator, case_id=case.pk, action="age_approve", reason="ID shows 1990 birth date")
    # then the account is verified and the hold lifted, with the decision in the audit log
    unverified.refresh_from_db()
    assert unverified.age_verification == User.AgeVerification.VERIFIED and unverified.is_adult
    assert Enforcement.objects.get(kind=Enforcement.Kind.AGE_HOLD).revoked_at is not None
    assert ModerationAction.objects.filter(action="age_approve", actor=moderator, target_user=unverified).exists()


def test_moderator_rejects_after_review(auth_client, unverified):
    _margin(20)
    auth_client(unverified).post(URL, {"selfie": upload(ASTRONAUT)}, format="multipart")
    moderator = UserFactory(is_staff=True, is_superuser=True)
    services.case_act(actor=moderator, case_id=Case.objects.get().pk, action="age_reject", reason="ID shows age 15")
    unverified.refresh_from_db()
    assert unverified.age_verification == User.AgeVerification.REJECTED and not unverified.is_adult


def test_id_document_only_while_held(auth_client, user):
    response = auth_client(user).post(f"{URL}id-document/", {"document": upload(COFFEE)}, format="multipart")
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: _png(Image.fromarray(skimage.data.coffee())), "no_face"),
        (lambda: _png(_two_astronauts()), "several_faces"),
        (lambda: SimpleUploadedFile("selfie.jpg", b"\xff\xd8\xff\xe0 not really a jpeg"), "image_unreadable"),
    ],
)
def test_unusable_selfies_get_clear_errors_and_change_nothing(auth_client, unverified, make, code):
    response = auth_client(unverified).post(URL, {"selfie": make()}, format="multipart")
    assert response.status_code == 400 and response.json()["code"] == code
    unverified.refresh_from_db()
    assert unverified.age_verification == User.AgeVerification.UNVERIFIED and not AgeCheck.objects.exists()


def _two_astronauts() -> Image.Image:
    face = Image.open(ASTRONAUT).convert("RGB")
    canvas = Image.new("RGB", (1024, 512))
    canvas.paste(face, (0, 0))
    canvas.paste(face, (512, 0))
    return canvas


def test_verified_account_cannot_resubmit(auth_client, user):
    response = auth_client(user).post(URL, {"selfie": upload(ASTRONAUT)}, format="multipart")
    assert response.status_code == 409


def test_birth_date_under_18_blocks_even_after_an_adult_selfie(auth_client):
    minor = UserFactory(
        age_verification=User.AgeVerification.UNVERIFIED,
        date_of_birth=timezone.localdate().replace(year=timezone.localdate().year - 16),
    )
    response = auth_client(minor).post(URL, {"selfie": upload(ASTRONAUT)}, format="multipart")
    assert response.status_code == 201
    minor.refresh_from_db()
    assert not minor.is_adult
    with pytest.raises(AgeRestricted):
        user_require_adult(user=minor)


def test_missing_age_model_names_the_install_command(tmp_path):
    with pytest.raises(ModelUnavailable, match=r"age-v1\.onnx: run `python manage.py models_install`"):
        AgeEstimator(model_dir=str(tmp_path))
