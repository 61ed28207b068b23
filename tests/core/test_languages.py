"""English and Nepali (README "Languages"): the catalogue is complete and compiled, the language is
picked per request (a saved preference first), and codes never change with it."""

import gettext
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from apps.core.exception_handler import error_body
from apps.core.exceptions import DomainError
from apps.core.i18n import language_choose, language_from_accept_header, localize_digits
from apps.core.registry import app_modules
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory, LiveStreamFactory
from tests.wallet.factories import fund

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "ne" / "LC_MESSAGES"
ME = "/api/v1/me/"
DEVANAGARI = re.compile(r"[\u0900-\u097F]")


@pytest.fixture(autouse=True)
def _english_after():
    """Requests activate a language in this thread: put English back for the tests that follow."""
    with translation.override(settings.LANGUAGE_CODE):
        yield


def po_entries(path: Path) -> dict[str, tuple[str, bool]]:
    """msgid -> (msgstr, fuzzy) of a .po file (no plural forms here; the header is left out)."""
    entries: dict[str, tuple[str, bool]] = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#~")]
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        parts: dict[str, str] = {}
        key = None
        for line in lines:
            match = re.match(r'^(msgid|msgstr) (".*")$', line)
            if match:
                key = match.group(1)
                parts[key] = ""
                line = match.group(2)
            if key and line.startswith('"'):
                parts[key] += line[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        if parts.get("msgid"):
            entries[parts["msgid"]] = (parts.get("msgstr", ""), fuzzy)
    return entries


def test_every_user_facing_message_has_a_nepali_translation(tmp_path):
    # given the messages marked in the code and templates today, extracted by makemessages into a
    # fresh catalogue (a copy of the tree, so the committed catalogue is not touched)
    root = Path(settings.BASE_DIR)
    tree = tmp_path / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "locale", "*.pyc")
    for part in ("apps", "templates", "static", "halobuzz"):
        shutil.copytree(root / part, tree / part, ignore=ignore)
    shutil.copy(root / "manage.py", tree / "manage.py")
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "ne", "--no-location", "-v", "0"],
        cwd=tree,
        check=True,
        capture_output=True,
    )
    extracted = po_entries(tree / "locale" / "ne" / "LC_MESSAGES" / "django.po")
    committed = po_entries(CATALOGUE / "django.po")
    assert len(extracted) > 200  # the extraction really found our messages

    # then each has a Nepali text in locale/ne that is not fuzzy
    missing = sorted(msgid for msgid in extracted if msgid not in committed or not committed[msgid][0])
    fuzzy = sorted(msgid for msgid in extracted if msgid in committed and committed[msgid][1])
    assert missing == [], f"no Nepali for {missing}: see README 'Languages'"
    assert fuzzy == [], f"fuzzy Nepali for {fuzzy}"
    not_nepali = sorted(msgid for msgid in extracted if not DEVANAGARI.search(committed[msgid][0]))
    assert not_nepali == []


def test_the_compiled_catalogue_is_the_committed_po(tmp_path):
    # the .mo Django reads is the .po compiled (msgfmt checks the placeholders match too)
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(CATALOGUE / "django.po")], check=True)
    with fresh.open("rb") as a, (CATALOGUE / "django.mo").open("rb") as b:
        assert gettext.GNUTranslations(a)._catalog == gettext.GNUTranslations(b)._catalog  # type: ignore[attr-defined]


def _domain_errors() -> list[type[DomainError]]:
    app_modules("exceptions")  # every app's exceptions imported
    found, todo = [], [DomainError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_codes_and_details_are_the_same_in_both_languages_and_every_message_is_translated():
    errors = _domain_errors()
    assert len(errors) > 60
    for cls in errors:
        exc = cls(details={"balance": 5, "needed": 10})
        with translation.override("en"):
            english = error_body(exc.code, exc.message, exc.details)
        with translation.override("ne"):
            nepali = error_body(exc.code, exc.message, exc.details)
        assert nepali["code"] == english["code"] == cls.code and nepali["details"] == english["details"]
        assert DEVANAGARI.search(nepali["message"]) and not DEVANAGARI.search(english["message"]), cls


def test_digits_are_devanagari_in_nepali_only():
    with translation.override("ne"):
        assert localize_digits(1234567890) == "१२३४५६७८९०"
    with translation.override("en"):
        assert localize_digits(50) == "50"


def test_language_choice_takes_the_first_supported_candidate():
    assert language_from_accept_header("fr-FR,ne-NP;q=0.8,en;q=0.5") == "ne"
    assert language_from_accept_header("en-GB,ne;q=0.9") == "en"
    assert language_from_accept_header("fr, de") is None
    assert language_choose("", None, "ne") == "ne"
    assert language_choose("xx", "fr") == settings.LANGUAGE_CODE


# --- Over the API ---------------------------------------------------------------------------------


@pytest.fixture
def poor_sender(db):
    user = UserFactory()
    fund(user, 50)
    return user


def _send_gift(client, stream, gift, **headers):
    body = {"stream": stream.pk, "gift": gift.pk, "quantity": 5}
    return client.post("/api/v1/gifts/send/", body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex, **headers)


@pytest.mark.django_db
def test_accept_language_picks_the_language_of_an_insufficient_coins_error(auth_client, poor_sender):
    stream, gift = LiveStreamFactory(), GiftFactory(coin_price=20)
    client = auth_client(poor_sender)

    nepali = _send_gift(client, stream, gift, HTTP_ACCEPT_LANGUAGE="ne-NP,ne;q=0.9,en;q=0.5")
    english = _send_gift(client, stream, gift, HTTP_ACCEPT_LANGUAGE="en-US")
    default = _send_gift(client, stream, gift)

    assert nepali.status_code == english.status_code == 409
    assert nepali.json() == {
        "code": "insufficient_coins",
        "message": "पर्याप्त कोइन छैन: तपाईंसँग ५० कोइन छ, १०० चाहिन्छ।",
        "details": {"balance": 50, "needed": 100},
    }
    assert english.json()["message"] == default.json()["message"] == "Not enough coins: you have 50 coins, need 100."
    assert nepali["Content-Language"] == "ne" and english["Content-Language"] == "en"
    assert {k: v for k, v in nepali.json().items() if k != "message"} == {
        k: v for k, v in english.json().items() if k != "message"
    }


@pytest.mark.django_db
def test_a_saved_preference_wins_over_the_header_and_applies_without_one(auth_client, poor_sender):
    stream, gift = LiveStreamFactory(), GiftFactory(coin_price=20)
    client = auth_client(poor_sender)

    # when the user saves Nepali in their profile
    saved = client.patch(ME, {"language": "ne"}, format="json")
    assert saved.status_code == 200 and saved.json()["language"] == "ne"

    # then errors come in Nepali with no header, and even when the header asks for English
    # (gift sends read no user row: the preference comes through the cache, cleared on save)
    for headers in ({}, {"HTTP_ACCEPT_LANGUAGE": "en"}):
        response = _send_gift(client, stream, gift, **headers)
        assert response.json()["message"] == "पर्याप्त कोइन छैन: तपाईंसँग ५० कोइन छ, १०० चाहिन्छ।", headers

    # and "" goes back to following the header
    assert client.patch(ME, {"language": ""}, format="json").json()["language"] == ""
    assert _send_gift(client, stream, gift).json()["message"].startswith("Not enough coins")
    assert _send_gift(client, stream, gift, HTTP_ACCEPT_LANGUAGE="ne").json()["message"].startswith("पर्याप्त")


@pytest.mark.django_db
def test_an_unsupported_language_is_refused_and_nothing_is_saved(auth_client, user):
    response = auth_client(user).patch(ME, {"language": "fr", "bio": "namaste"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert "language" in response.json()["details"]
    user.refresh_from_db()
    assert user.language == "" and user.bio == ""


@pytest.mark.django_db
def test_validation_messages_and_codes_under_both_languages(auth_client, user):
    client = auth_client(user)
    english = client.patch(ME, {"display_name": "x" * 60}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    nepali = client.patch(ME, {"display_name": "x" * 60}, format="json", HTTP_ACCEPT_LANGUAGE="ne")
    assert english.status_code == nepali.status_code == 400
    assert english.json()["code"] == nepali.json()["code"] == "invalid"
    assert english.json()["message"] == "Invalid input: Ensure this field has no more than 50 characters."
    assert nepali.json()["message"] == "अमान्य विवरण: यो क्षेत्रमा ५० भन्दा बढी अक्षर नहोस्।"
    assert nepali.json()["details"]["display_name"] == ["यो क्षेत्रमा ५० भन्दा बढी अक्षर नहोस्।"]


@pytest.mark.django_db
def test_the_payment_result_page_is_in_the_browser_language(client):
    page = client.get("/payments/result/", HTTP_ACCEPT_LANGUAGE="ne")
    assert page.status_code == 200
    assert "हामीले यो भुक्तानी मिलाउन सकेनौँ" in page.content.decode() and 'lang="ne"' in page.content.decode()
