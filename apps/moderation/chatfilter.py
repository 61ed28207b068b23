"""Whole-word, case-insensitive masking of banned terms in English, Nepali and romanised Nepali.

Python's `\\b` treats Devanagari vowel signs and the virama (Unicode Mn/Mc) as non-word
characters, so a `\\b` boundary would fire in the middle of a Nepali word. The boundaries here
count letters, digits, underscore and every combining mark as part of a word instead.
"""

import re
import unicodedata
from functools import lru_cache

# Word characters: \w plus the Devanagari block and the general combining-mark ranges.
_WORD = r"\w\u0900-\u097F\uA8E0-\uA8FF\u0300-\u036F\u1AB0-\u1AFF\u200C\u200D"
MASK = "*"


def normalise(text: str) -> str:
    # NFC so that a decomposed "क़" (क + nukta) and the precomposed one compare equal.
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=8)
def _pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    cleaned = sorted({normalise(t).strip() for t in terms if t and t.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    # Inside a phrase any run of spaces matches; the longest term wins where terms overlap.
    alternatives = "|".join(r"\s+".join(re.escape(part) for part in term.split()) for term in cleaned)
    return re.compile(rf"(?<![{_WORD}])(?:{alternatives})(?![{_WORD}])", re.IGNORECASE)


def mask(text: str, terms: tuple[str, ...]) -> tuple[str, int]:
    """Return the text with every banned term replaced by asterisks, and how many were masked."""
    pattern = _pattern(terms)
    text = normalise(text)
    if pattern is None:
        return text, 0
    return pattern.subn(lambda m: "".join(c if c.isspace() else MASK for c in m.group(0)), text)
