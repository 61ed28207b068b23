"""The word filter for text the apps store: names are refused, other text is masked.

Moderation owns the filter and sits above the apps that ask (accounts, live), so it registers its
two functions here from its AppConfig.ready(); with nothing registered every text passes unchanged.
"""

from collections.abc import Callable

from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import DomainError

TextMasker = Callable[[str], str]  # the text with banned words masked
NameJudge = Callable[[str], bool]  # True when the name holds no banned word

_maskers: list[TextMasker] = []
_judges: list[NameJudge] = []


class NameNotAllowed(DomainError):
    code = "name_not_allowed"
    status = 400
    message = _("This name contains words that are not allowed. Choose another.")


def text_filter_register(*, masker: TextMasker, judge: NameJudge) -> None:
    """Install the filter (once: a second registration replaces the first)."""
    _maskers[:] = [masker]
    _judges[:] = [judge]


def text_mask(text: str) -> str:
    """A title, bio or caption with its banned words masked."""
    for masker in _maskers:
        text = masker(text)
    return text


def name_check(*, value: str, field: str) -> None:
    """Refuse a username or display name holding a banned word (NameNotAllowed, 400, details.field)."""
    if value and not all(judge(value) for judge in _judges):
        raise NameNotAllowed(details={"field": field})
