"""The word filter: banned terms found through the spellings people use to walk around a list.

Text and terms are brought to one *skeleton* before matching, keeping a map from every skeleton
character back to the text, so that a hit masks exactly the characters that were written:

- case, accents and compatibility forms (fullwidth, mathematical letters) fold away (NFKD);
- Cyrillic, Greek and other Latin look-alikes become the Latin letter they imitate (Unicode's
  confusables table, shipped by the confusable-homoglyphs package, read once per process);
- leetspeak: digits inside a word with letters (`sh1t`), and `@ $ ! | + €` inside a word (`$hit`,
  `b!tch`; a `!` that ends a word is punctuation);
- invisible characters (ZWJ, ZWNJ, zero-width spaces, soft hyphens) vanish;
- Devanagari: nukta letters lose the nukta, chandrabindu is anusvara, a nasal consonant with a
  virama is anusvara (रण्डी = रन्डी = रंडी), other viramas go, long vowels are short, ौ ै are ो े,
  ष श become स and व becomes ब;
- letters spelt apart (`f u c k`, `f.u.c.k`, `fu.ck`) are joined into one word, and a term of six
  letters or more still matches when one space splits it (`madar chod`).

A term then matches one or more repeats of each of its letters (`fuuuck`); a `*` in a word stands
for one letter (`f*ck`, `f**k`, at most half the letters); romanised Nepali terms also accept the
usual alternative spellings (`chh`/`ch`, `ee`/`i`, `oo`/`u`, `w`/`v`/`b`, aspirated or not).
By default a term matches whole words; a term marked `inside_words` also matches inside a longer
word (`bullshit`), except in the allowed words of data/allowed_words.txt (`Scunthorpe`).

Each hit scores its term's severity, plus a bonus when it was spelt to evade (symbols, digits,
look-alikes, spacing) and minus a penalty when wildcards stand for letters (the reading is a guess).
"""

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from string import ascii_lowercase

MASK = "*"
DEFAULT_SEVERITY = 80
EVASION_BONUS = 10
WILDCARD_PENALTY = 20
ROMANISED_NEPALI = "ne-latn"
_DATA = Path(__file__).resolve().parent / "data"

_LEET_DIGITS = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g"}
# Symbols read as letters inside a word; those in _LEET_NOT_LAST are punctuation at a word's end.
_LEET_SYMBOLS = {"@": "a", "$": "s", "!": "i", "|": "i", "+": "t", "€": "e", "£": "l"}
_LEET_NOT_LAST = frozenset("!|+")
# `*` stands for a letter anywhere in a word; `#` only between letters (`#tag` is a hashtag).
_WILDCARDS = frozenset("*#")
_INSIDE_ONLY = frozenset("#")
_SYMBOLS = frozenset(_LEET_SYMBOLS) | _WILDCARDS
_INVISIBLE = frozenset("\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff")
_DEVANAGARI_NASALS = frozenset("ङञणनम")
_VIRAMA = "\u094d"
_DEVANAGARI_MAP = {
    "\u0901": "\u0902",  # chandrabindu -> anusvara
    "ी": "ि",
    "ू": "ु",
    "ौ": "ो",
    "ै": "े",
    "ई": "इ",
    "ऊ": "उ",
    "ष": "स",
    "श": "स",
    "व": "ब",
}
# Pieces joined when spelt apart: single letters separated like this (`f u c k`, `f-u-c-k`).
_SPACED_MIN_RUN = 3
_SPLIT_MIN_UNITS = 6
_JOINERS = frozenset(".-_'~^:,/\\")


@dataclass(frozen=True)
class Term:
    """A banned word or phrase: how bad it is (1–100) and whether it counts inside longer words."""

    text: str
    severity: int = DEFAULT_SEVERITY
    inside_words: bool = False
    language: str = ""


@dataclass(frozen=True)
class Hit:
    start: int  # in the original text
    end: int
    term: str
    score: int
    evasive: bool
    wildcards: bool


@dataclass(frozen=True)
class Verdict:
    """The text with its hits masked, the hits, and the message's score (its worst hit; 0 when clean)."""

    text: str
    hits: tuple[Hit, ...]
    score: int


# --- Characters ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _confusables() -> dict[str, str]:
    """Look-alike characters of other scripts -> the lowercase Latin letter they imitate."""
    from confusable_homoglyphs import categories, confusables  # 0.9 MB of JSON: read on first use

    table: dict[str, str] = {}
    for char, glyphs in confusables.confusables_data.items():
        if len(char) != 1 or char.isascii() or categories.alias(char) in ("DEVANAGARI", "COMMON"):
            continue
        # A glyph with a mark (`f̦` for `ƒ`) imitates its letter.
        plain = ["".join(c for c in unicodedata.normalize("NFKD", g["c"]) if not _is_mark(c)) for g in glyphs]
        latin = [p for p in plain if len(p) == 1 and p.isascii() and p.isalpha()]
        if latin:
            table[char] = latin[0].lower()
    return table


def _is_mark(char: str) -> bool:
    return unicodedata.category(char) in ("Mn", "Mc")


def _is_devanagari(char: str) -> bool:
    return "\u0900" <= char <= "\u097f"


@lru_cache(maxsize=8192)
def _fold_char(char: str) -> str:
    """One character of the text as the skeleton spells it ("" when it vanishes)."""
    if char in _INVISIBLE or unicodedata.category(char) == "Cf":
        return ""
    table = _confusables()
    out = []
    for part in unicodedata.normalize("NFKD", char):
        if _is_devanagari(part):
            if part == "\u093c":  # nukta
                continue
            out.append(_DEVANAGARI_MAP.get(part, part))
            continue
        if _is_mark(part):
            continue  # accents on Latin, Greek, Cyrillic letters
        if part.isascii():
            out.append(part.lower())
            continue
        out.append(table.get(part) or table.get(part.lower()) or part.lower())
    return "".join(out)


def _is_word_char(char: str) -> bool:
    return char.isalnum() or _is_mark(char)


# --- Skeleton ------------------------------------------------------------------------------------


def _folded(text: str) -> list[tuple[str, int]]:
    """(skeleton character, index in text) for each character, nasal + virama already anusvara."""
    chars: list[tuple[str, int]] = []
    for index, char in enumerate(text):
        for part in _fold_char(char):
            if part == _VIRAMA:
                # A half nasal is anusvara (रण्डी = रंडी); other viramas are spelling (मादर्चोद = मादरचोद).
                if chars and chars[-1][0] in _DEVANAGARI_NASALS:
                    chars[-1] = ("\u0902", chars[-1][1])
                continue
            chars.append((part, index))
    return chars


def _tokens(chars: list[tuple[str, int]]) -> list[tuple[list[tuple[str, int]], str]]:
    """Words (their characters) and, for each, the separator that follows it."""
    words: list[tuple[list[tuple[str, int]], str]] = []
    n = len(chars)
    i = 0
    current: list[tuple[str, int]] = []
    while i < n:
        char = chars[i][0]
        if _is_word_char(char):
            current.append(chars[i])
            i += 1
            continue
        if char in _SYMBOLS:
            # A run of symbols belongs to a word it touches (trailing `!` and `|` are punctuation).
            j = i
            while j < n and chars[j][0] in _SYMBOLS:
                j += 1
            before = bool(current)
            after = j < n and _is_word_char(chars[j][0])
            run = chars[i:j]
            inside_only = any(c in _INSIDE_ONLY for c, _ in run)
            if (after and (before or not inside_only)) or (
                before and not inside_only and not any(c in _LEET_NOT_LAST for c, _ in run)
            ):
                current.extend(run)
                i = j
                continue
        # A separator.
        j = i
        while j < n and not _is_word_char(chars[j][0]) and chars[j][0] not in _SYMBOLS:
            j += 1
        sep = "".join(c for c, _ in chars[i : max(j, i + 1)])
        if current:
            words.append((current, sep))
            current = []
        elif words:
            words[-1] = (words[-1][0], words[-1][1] + sep)
        i = max(j, i + 1)
    if current:
        words.append((current, ""))
    return words


def _letters(word: list[tuple[str, int]]) -> int:
    return sum(1 for c, _ in word if not _is_mark(c))


def _joined(words: list[tuple[list[tuple[str, int]], str]]) -> list[list[tuple[str, int]]]:
    """Join words spelt apart: runs of single letters (`f u c k`), short pieces joined by punctuation (`fu.ck`)."""
    out: list[list[tuple[str, int]]] = []
    i = 0
    while i < len(words):
        j = i
        # Short pieces separated by one joiner and no space.
        while (
            j + 1 < len(words)
            and len(words[j][1]) == 1
            and words[j][1] in _JOINERS
            and _letters(words[j][0]) <= 2
            and _letters(words[j + 1][0]) <= 2
        ):
            j += 1
        if j == i:
            # Single letters separated by short separators without a line break.
            while (
                j + 1 < len(words)
                and _letters(words[j][0]) == 1
                and _letters(words[j + 1][0]) == 1
                and len(words[j][1]) <= 3
                and "\n" not in words[j][1]
            ):
                j += 1
            if j - i + 1 < _SPACED_MIN_RUN:
                j = i
        merged = [c for word, _ in words[i : j + 1] for c in word]
        out.append(merged)
        i = j + 1
    return out


def _leet(word: list[tuple[str, int]]) -> list[tuple[str, int]]:
    has_letter = any(c.isalpha() for c, _ in word)
    out = []
    for c, index in word:
        if c in _LEET_SYMBOLS:
            c = _LEET_SYMBOLS[c]
        elif c in _WILDCARDS:
            c = MASK
        elif has_letter and c in _LEET_DIGITS:
            c = _LEET_DIGITS[c]
        out.append((c, index))
    return out


def skeleton(text: str) -> tuple[str, list[int]]:
    """The text's skeleton (words separated by one space) and each skeleton character's index in text."""
    chars: list[str] = []
    where: list[int] = []
    for word in _joined(_tokens(_folded(text))):
        if chars:
            chars.append(" ")
            where.append(where[-1])
        for c, index in _leet(word):
            chars.append(c)
            where.append(index)
    return "".join(chars), where


# --- Terms ---------------------------------------------------------------------------------------

# Romanised Nepali: each spelling unit and the pattern of its usual alternatives.
_ROMAN_UNITS = [
    ("chh", "c+h*"),
    ("ch", "c+h*"),
    ("sh", "s+h*"),
    ("kh", "[kq]+h+"),
    ("gh", "g+h*"),
    ("jh", "[jz]+h*"),
    ("th", "t+h*"),
    ("dh", "d+h*"),
    ("bh", "(?:b|v)+h*"),
    ("ph", "(?:ph|f)+"),
    ("aa", "a+"),
    ("ee", "(?:i|e{2}|y)+"),
    ("oo", "(?:u|o{2})+"),
    ("c", "c+h*"),
    ("s", "s+h*"),
    ("k", "[kq]+"),
    ("j", "[jz]+h*"),
    ("t", "t+h*"),
    ("d", "d+h*"),
    ("g", "g+h*"),
    ("b", "[bvw]+h*"),
    ("v", "[bvw]+"),
    ("w", "[bvw]+"),
    ("f", "(?:ph|f)+"),
    ("i", "(?:i|e{2}|y)+"),
    ("u", "(?:u|o{2})+"),
]


def _roman_units(word: str) -> list[str]:
    units: list[str] = []
    i = 0
    while i < len(word):
        for spelling, pattern in _ROMAN_UNITS:
            if word.startswith(spelling, i):
                units.append(pattern)
                i += len(spelling)
                # Doubled letters (`kukkur`) are one unit: the pattern repeats anyway.
                while i < len(word) and word[i] == spelling[-1] and len(spelling) == 1:
                    i += 1
                break
        else:
            units.append(f"{re.escape(word[i])}+")
            i += 1
    return [f"(?:{u}|\\*)" for u in units]


_PLAIN_ALTERNATES = {"u": "uv"}  # `fvck`


def _plain_units(word: str) -> list[str]:
    """Each letter run of the term: at least as many repeats as the term has (`ass` is not `as`)."""
    units: list[str] = []
    for match in re.finditer(r"(.)\1*", word):
        letter, count = match.group(1), len(match.group(0))
        # Marks follow their letter: repeats of a vowel sign are not a spelling.
        cls = re.escape(letter) if _is_mark(letter) else f"[{re.escape(_PLAIN_ALTERNATES.get(letter, letter))}*]"
        units.append(f"{cls}{{{count},}}" if count > 1 else f"{cls}+")
    return units


def _term_pattern(term: Term) -> tuple[str, set[str]]:
    """The term's pattern, and the characters a match can start with."""
    folded, _ = skeleton(term.text)
    words = folded.split(" ")
    units = [_roman_units(w) if term.language == ROMANISED_NEPALI else _plain_units(w) for w in words]
    # A long word may be split once by a space (`madar chod`); a short one could span two real words.
    parts = ["(?: ?)".join(u) if len(u) >= _SPLIT_MIN_UNITS else "".join(u) for u in units]
    body = " ".join(parts)
    first = units[0][0]
    starts = {c for c in f"{ascii_lowercase}{MASK}{folded[0]}" if any(re.match(first, c + t) for t in ("", c, "h"))}
    return (body if term.inside_words else rf"(?<!\S){body}(?!\S)"), starts


def _as_term(term: "str | Term") -> Term:
    return term if isinstance(term, Term) else Term(text=term)


@dataclass(frozen=True)
class _Compiled:
    pattern: re.Pattern[str]
    terms: tuple[Term, ...]


@lru_cache(maxsize=16)
def _compiled(terms: tuple["str | Term", ...]) -> _Compiled | None:
    by_text: dict[str, Term] = {}
    for raw in terms:
        term = _as_term(raw)
        text = " ".join(term.text.split())
        if not text or not skeleton(text)[0].strip():
            continue
        # A term listed twice (the list and a host's extra words) keeps its worst reading.
        key = skeleton(text)[0]
        known = by_text.get(key)
        if known is None or term.severity > known.severity or term.inside_words and not known.inside_words:
            by_text[key] = Term(
                text=text,
                severity=max(term.severity, known.severity if known else 0),
                inside_words=term.inside_words or bool(known and known.inside_words),
                language=term.language or (known.language if known else ""),
            )
    if not by_text:
        return None
    ordered = tuple(sorted(by_text.values(), key=lambda t: len(t.text), reverse=True))
    patterns = [_term_pattern(t) for t in ordered]
    alternatives = "|".join(f"(?P<t{i}>{pattern})" for i, (pattern, _) in enumerate(patterns))
    # Most positions start no term: one character class turns them away before the alternatives are tried.
    starts = "".join(sorted(set().union(*(s for _, s in patterns))))
    return _Compiled(pattern=re.compile(f"(?=[{re.escape(starts)}])(?:{alternatives})"), terms=ordered)


@lru_cache(maxsize=1)
def allowed_words() -> frozenset[str]:
    """Ordinary words that contain a banned term (data/allowed_words.txt, one a line, # comments)."""
    lines = (_DATA / "allowed_words.txt").read_text(encoding="utf-8").splitlines()
    words = (line.split("#", 1)[0].strip() for line in lines)
    return frozenset(skeleton(word)[0] for word in words if word)


# --- Matching ------------------------------------------------------------------------------------


def _evasive(original: str, term: Term) -> bool:
    """Written with symbols, digits, look-alikes or letters spelt apart rather than as the term is."""
    plain_term = term.text.casefold()
    written = " ".join(original.split()).casefold()
    if written == plain_term:
        return False
    if any(not (c.isalpha() or _is_mark(c) or c == " ") for c in written):
        return True
    if written.count(" ") > plain_term.count(" "):
        return True
    # Letters of another script than the term's (Cyrillic `а` for Latin `a`).
    return term.text.isascii() and not all(c.isascii() or _is_mark(c) for c in unicodedata.normalize("NFKD", written))


def _word_around(folded: str, start: int, end: int) -> str:
    left = folded.rfind(" ", 0, start) + 1
    right = folded.find(" ", end)
    return folded[left : right if right != -1 else len(folded)]


def _hits(text: str, compiled: _Compiled) -> list[Hit]:
    folded, where = skeleton(text)
    allowed = allowed_words()
    hits: list[Hit] = []
    for match in compiled.pattern.finditer(folded):
        group = match.lastgroup
        if group is None:
            continue
        term = compiled.terms[int(group[1:])]
        found = match.group(0)
        wildcards = found.count(MASK)
        letters = sum(1 for c in found if c not in (MASK, " "))
        if wildcards and (letters < 2 or wildcards * 2 > letters + wildcards):
            continue
        if _word_around(folded, match.start(), match.end()) in allowed:
            continue
        start, end = where[match.start()], where[match.end() - 1] + 1
        evasive = _evasive(text[start:end], term)
        score = term.severity + (EVASION_BONUS if evasive else 0) - (WILDCARD_PENALTY if wildcards else 0)
        hits.append(
            Hit(
                start=start,
                end=end,
                term=term.text,
                score=max(1, min(100, score)),
                evasive=evasive,
                wildcards=bool(wildcards),
            )
        )
    return hits


def _masked(text: str, hits: Iterable[Hit]) -> str:
    chars = list(text)
    for hit in hits:
        for i in range(hit.start, hit.end):
            if not chars[i].isspace():
                chars[i] = MASK
    return "".join(chars)


def check(text: str, terms: Sequence["str | Term"]) -> Verdict:
    """Find the banned terms in a text, mask them, and score it (the worst hit's score)."""
    text = unicodedata.normalize("NFC", text)
    compiled = _compiled(tuple(terms))
    if compiled is None:
        return Verdict(text=text, hits=(), score=0)
    hits = _hits(text, compiled)
    return Verdict(text=_masked(text, hits), hits=tuple(hits), score=max((h.score for h in hits), default=0))


def mask(text: str, terms: Sequence["str | Term"]) -> tuple[str, int]:
    """Return the text with every banned term replaced by asterisks, and how many were masked."""
    verdict = check(text, terms)
    return verdict.text, len(verdict.hits)


def normalise(text: str) -> str:
    """The text as the filter reads it (its skeleton), for tools and tests."""
    return skeleton(text)[0]
