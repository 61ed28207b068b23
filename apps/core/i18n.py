"""Languages of what users read (README "Languages"): picking one, and numbers inside messages.

Codes (error `code`s, event types) never change with the language; only the human text does.
"""

from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation.trans_real import parse_accept_lang_header

DEVANAGARI_DIGITS = str.maketrans("0123456789", "०१२३४५६७८९")
_SUPPORTED = {code for code, _name in settings.LANGUAGES}


def supported_language(value: str | None) -> str | None:
    """One of LANGUAGES for a code like "ne", "ne-NP" or "en_US", or None."""
    if not value:
        return None
    try:
        code = translation.get_supported_language_variant(value.strip().replace("_", "-").lower())
    except LookupError:
        return None
    return code if code in _SUPPORTED else None


def language_from_accept_header(header: str | None) -> str | None:
    """The first supported language of an Accept-Language header, by its q-values."""
    for code, _q in parse_accept_lang_header(header or ""):
        if code == "*":
            break
        found = supported_language(code)
        if found:
            return found
    return None


def language_choose(*choices: str | None) -> str:
    """The first supported one of the candidates (a saved preference first), else LANGUAGE_CODE."""
    for choice in choices:
        found = supported_language(choice)
        if found:
            return found
    return settings.LANGUAGE_CODE


def localize_digits(value: Any) -> str:
    """The value as text, with Devanagari digits (०–९) while Nepali is active."""
    if isinstance(value, datetime):
        text = timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if timezone.is_aware(value) else str(value)
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    if (translation.get_language() or "").split("-")[0] == "ne":
        return text.translate(DEVANAGARI_DIGITS)
    return text


def translate(template: str, **params: Any) -> str:
    """gettext(template) % params, the numbers and dates among them in the active language's digits.

    Templates use named placeholders (%(coins)s) so a translation may reorder them.
    """
    text = gettext(template)
    if not params:
        return text
    # Text values (a moderator's reason, a server message) are shown as written; numbers and dates localised.
    return text % {name: value if isinstance(value, str) else localize_digits(value) for name, value in params.items()}


# translate() evaluated when the text is read (str()), in the reader's language; mark the template
# with gettext_noop so extraction finds it.
translate_lazy = lazy(translate, str)
