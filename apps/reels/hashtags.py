"""Hashtags in reel captions: `#dashain`, `#नमस्ते`, `#momo_lover`.

A tag is `#` (not straight after a letter, so `a#b` is not a tag, nor is a link's fragment) followed by
letters, digits, `_`, and combining marks: Devanagari vowel signs and the virama are categories
Mn/Mc, which Python's `\\w` does not match, so `#नमस्ते` would otherwise stop at `नमस`. Zero-width
joiners (used inside Devanagari conjuncts) are kept inside a tag. Tags are stored NFC-normalised and
case-folded, so `#Dashain` and `#dashain` are one tag; a tag needs a letter (`#2026` is not one), and
a tag cut short by the word filter's mask (`#f***`) is dropped.
"""

import re
import unicodedata

MAX_TAG_LENGTH = 50
MAX_TAGS_PER_REEL = 30
_JOINERS = {"\u200c", "\u200d"}  # ZWNJ, ZWJ
_MASK = "*"
_LINK = re.compile(r"\S*(?:://|www\.)\S*", re.IGNORECASE)  # a `#` inside a link is its fragment


def _in_tag(char: str) -> bool:
    return char.isalnum() or char == "_" or unicodedata.category(char) in ("Mn", "Mc") or char in _JOINERS


def hashtag_normalise(text: str) -> str:
    """The stored form of a tag as typed (with or without its `#`); "" when it is not a valid tag."""
    tag = unicodedata.normalize("NFC", text.strip().lstrip("#")).casefold()
    tag = tag.strip("".join(_JOINERS))
    if not tag or len(tag) > MAX_TAG_LENGTH or not all(_in_tag(c) for c in tag):
        return ""
    if not any(c.isalpha() for c in tag) or unicodedata.category(tag[0]) in ("Mn", "Mc"):
        return ""
    return tag


def hashtags_extract(caption: str) -> list[str]:
    """The caption's tags, normalised, each once, in the order they first appear (at most MAX_TAGS_PER_REEL)."""
    text = unicodedata.normalize("NFC", caption)
    in_link = {i for match in _LINK.finditer(text) for i in range(match.start(), match.end())}
    found: list[str] = []
    i = 0
    while i < len(text) and len(found) < MAX_TAGS_PER_REEL:
        if text[i] != "#" or i in in_link or (i > 0 and _in_tag(text[i - 1])):
            i += 1
            continue
        end = i + 1
        while end < len(text) and _in_tag(text[end]):
            end += 1
        masked = end < len(text) and text[end] == _MASK
        tag = "" if masked else hashtag_normalise(text[i + 1 : end])
        if tag and tag not in found:
            found.append(tag)
        i = max(end, i + 1)
    return found
