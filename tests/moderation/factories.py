import factory
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.moderation.models import BannedWord, Case, Enforcement
from apps.moderation.services import banned_words_cache_clear
from tests.accounts.factories import UserFactory
from tests.live.factories import LiveStreamFactory  # noqa: F401  (re-exported for moderation tests)
from tests.moderation.images import ASTRONAUT


def upload(source=ASTRONAUT, name: str | None = None):
    """An uploaded file: a test image's exact bytes (re-encoding would move the scores), or given bytes."""
    if isinstance(source, bytes):
        return SimpleUploadedFile(name or "frame.jpg", source, content_type="image/jpeg")
    return SimpleUploadedFile(name or source.name, source.read_bytes())


class ReportCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    kind = Case.Kind.REPORT
    target_type = Case.TargetType.USER
    subject = factory.SubFactory(UserFactory)
    target_id = factory.LazyAttribute(lambda o: str(o.subject.pk))
    summary = "Reported for harassment or hate"


class EnforcementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enforcement

    user = factory.SubFactory(UserFactory)
    kind = Enforcement.Kind.WARNING
    rule = "report_user"
    explanation = "Warning from a moderator: be kind."


def banned_word(term: str, *, severity: int, inside_words: bool = False) -> BannedWord:
    """A word of the platform list, as the migrations seed it (a transactional test's flush empties
    the seeded list for the tests after it), with the cached list forgotten."""
    word, _ = BannedWord.objects.get_or_create(term=term, defaults={"severity": severity, "inside_words": inside_words})
    banned_words_cache_clear()
    return word
