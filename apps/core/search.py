"""Search across scripts: one romanised key for Devanagari and for Nepali typed in Latin letters.

Nepalis type Nepali in Latin letters with no fixed spelling ("namaste", "sathi", "dai", "deepak" or
"dipak", "biswas" or "vishwas"), and the same words appear in Devanagari (नमस्ते, साथी, दाइ). Each
searchable row keeps `search_text`, the key of its names/title/caption, written when the row is saved;
a query goes through the same key, so the two spellings meet without transliterating rows at read time.

The key: Devanagari is transliterated (IAST, then diacritics dropped; a word's silent final schwa
dropped, as Nepali speaks it: नेपाल -> "nepal"), then every word is folded the way Nepali is typed:
lowercase, no diacritics, ch/chh -> c, sh -> s, ph -> f, v/w -> b, z -> j, ee -> i, oo -> u, and runs
of a letter collapsed (aa -> a, "namastee" -> "namaste"). The fold is lossy on purpose: both sides
go through it, and trigram similarity ranks the close spellings it leaves apart.

On PostgreSQL the rows are found by full-text (the key's words as prefixes, `simple` config) or by
trigram word similarity (pg_trgm), both on GIN indexes, and ranked by the two. The embedded default
(SQLite) has neither: there each word must be a substring of the key.
"""

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Case, F, FloatField, Func, Q, QuerySet, TextField, Value, When
from django.db.models.functions import Concat
from indic_transliteration import sanscript

# Bounds of a query, in characters after trimming (the API refuses outside them).
QUERY_MIN_LENGTH = 2
QUERY_MAX_LENGTH = 100
SEARCH_TEXT_MAX_LENGTH = 1000  # a key longer than any name/title/caption gives; cut there if ever

_DEVANAGARI_WORD = re.compile(r"[\u0900-\u0963\u0971-\u097f]+")
_WORD = re.compile(r"[\u0900-\u0963\u0971-\u097f]+|[^\W_]+")
_DEVANAGARI_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")
_VIRAMA = "\u094d"
_NUKTA = "\u093c"


def _is_consonant(char: str) -> bool:
    return "\u0915" <= char <= "\u0939" or "\u0958" <= char <= "\u095f"


# IAST letters whose plain-letter fold is not how Nepali is typed (before the diacritics go).
_IAST = [
    ("jñ", "gy"),  # ज्ञान is said and typed "gyan"
    ("ṃ", "n"),  # anusvara: हिंदी -> "hindi"
    ("m̐", "n"),  # chandrabindu: गाउँ -> "gaun"
    ("~", "n"),  # the chandrabindu as this library writes it in IAST
    ("ṝ", "ri"),
    ("ṛ", "ri"),  # ऋषि -> "rishi"
    ("ḷ", "l"),
]
# The fold of typed Nepali, in this order (on lowercase letters without diacritics).
_FOLD = [
    ("chh", "c"),
    ("ch", "c"),
    ("sh", "s"),
    ("ph", "f"),
    ("ee", "i"),
    ("oo", "u"),
    ("w", "b"),
    ("v", "b"),
    ("z", "j"),
    ("q", "k"),
]
_RUNS = re.compile(r"([a-z])\1+")


@functools.lru_cache(maxsize=8192)  # names and hashtags repeat: transliterate each word once
def _devanagari_word(word: str) -> str:
    latin = sanscript.transliterate(word, sanscript.DEVANAGARI, sanscript.IAST)
    # Nepali drops the inherent vowel of a final single consonant (नेपाल "nepal", राम "ram"), not
    # after a cluster (सत्य "satya", श्रेष्ठ "shrestha").
    bare = word.replace(_NUKTA, "")
    if len(bare) > 1 and _is_consonant(bare[-1]) and bare[-2] != _VIRAMA and latin.endswith("a"):
        latin = latin[:-1]
    for iast, typed in _IAST:
        latin = latin.replace(iast, typed)
    return latin


def _fold(word: str) -> str:
    word = "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))
    word = word.translate(_DEVANAGARI_DIGITS)
    word = "".join(c for c in word if c.isascii() and c.isalnum())
    for typed, folded in _FOLD:
        word = word.replace(typed, folded)
    return _RUNS.sub(r"\1", word)


def search_words(text: str) -> list[str]:
    """The keys of the words of `text`, in order (empty words dropped)."""
    words = []
    for word in _WORD.findall(unicodedata.normalize("NFC", text or "")):
        if _DEVANAGARI_WORD.fullmatch(word):
            word = _devanagari_word(word)
        key = _fold(word)
        if key:
            words.append(key)
    return words


def search_text(*parts: str) -> str:
    """The `search_text` column's value for a row made of these texts (names, a title, a caption)."""
    return " ".join(word for part in parts for word in search_words(part))[:SEARCH_TEXT_MAX_LENGTH]


@dataclass(frozen=True)
class SearchTerms:
    """A query as the selectors use it: its words' keys (at least one), and them joined."""

    words: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def tsquery(self) -> str:
        # Keys are [a-z0-9] only, so nothing in them is tsquery syntax; each word matches as a prefix.
        return " & ".join(f"{word}:*" for word in self.words)

    @property
    def tsquery_whole(self) -> str:
        return " & ".join(self.words)


@functools.lru_cache(maxsize=1024)
def search_terms(query: str) -> SearchTerms | None:
    """The terms of a user's query; None when nothing searchable is left (only punctuation, emoji)."""
    words = search_words(query)
    return SearchTerms(tuple(words[:10])) if words else None


# --- The query ---------------------------------------------------------------------------------


class _TsVector(Func):
    # The GIN index is on exactly this expression (the migrations build it from this class).
    template = "to_tsvector('simple'::regconfig, %(expressions)s)"
    output_field = FloatField()  # not read: it only feeds the two below


def search_vector(field: str = "search_text") -> Func:
    return _TsVector(F(field))


class _TsQuery(Func):
    template = "to_tsquery('simple'::regconfig, %(expressions)s)"


class _Matches(Func):
    arg_joiner = " @@ "
    template = "(%(expressions)s)"
    output_field = BooleanField()


class _WordSimilar(Func):
    # `column %> query`: the query is similar to some extent of the column (pg_trgm, on the GIN index).
    arg_joiner = " %%> "
    template = "(%(expressions)s)"
    output_field = BooleanField()


class _WordSimilarity(Func):
    # Rounded: a row's score is the same on every page of one query (the cursor compares it).
    template = "ROUND(word_similarity(%(expressions)s)::numeric, 3)::float8"
    output_field = FloatField()


# The fuzzy arm (trigram word similarity) runs only when the rows found with every word (full-text, as
# prefixes) are fewer than this: it is for misspellings, and word_similarity costs far more per row
# than a full-text match. It ranks at most FUZZY_CANDIDATES rows, found on the trigram index alone.
FUZZY_BELOW = 20
FUZZY_CANDIDATES = 200
EXACT, PREFIX = 2.0, 1.0  # the scores of rows with every word whole, and with every word as a prefix
# A query matching fewer rows than RANK_ALL_BELOW has them all ranked (read on the full-text index). A
# common one (a word in a fifth of the captions) would cost a read of each of its thousands of rows:
# where the selector has an index in popularity order, each tier (every word whole, every word as a
# prefix) is read from that index instead, most popular first, RANKED_DEPTH rows of it; the ranking is
# the same for the first RANKED_DEPTH rows, and the pages stop there.
RANK_ALL_BELOW = 2000
RANKED_DEPTH = 200


_SETTING = re.compile(r"[a-z0-9_]+")  # names and values written into SQL: nothing else passes


def planned_rows(qs: QuerySet, **settings: str) -> list[tuple[Any, ...]]:
    """The rows of `qs` (as tuples of its selected columns), planned under these planner settings, in
    one round trip: `SET LOCAL` and the query in one message, so the settings end with it (the
    message's implicit transaction; inside a transaction, a savepoint rolled back after the query).
    For a query whose good plan the planner cannot see: the full-text estimate of a prefix is a fixed
    2% without a rich vocabulary, so a common word's rows look few."""
    sql, params = qs.query.get_compiler(using=qs.db).as_sql()
    return planned_sql_rows(sql, params, **settings)


def planned_sql_rows(sql: str, params: Any, **settings: str) -> list[tuple[Any, ...]]:
    """planned_rows for a statement already compiled (Django's client-side binding allows several
    statements in one message; `sql` must be one statement)."""
    for name, value in settings.items():
        if not (_SETTING.fullmatch(name) and _SETTING.fullmatch(value)):
            raise ValueError(f"not a planner setting: {name}={value}")
    sets = "".join(f"SET LOCAL {name} = '{value}'; " for name, value in settings.items())
    if connection.in_atomic_block or not connection.get_autocommit():
        # SET LOCAL would last until the transaction ends: the savepoint's rollback undoes it (the
        # query only reads; its rows are already sent). A failed query leaves the transaction aborted
        # and its own error raised; the rollback of the transaction undoes the settings.
        point = "search_planner"
        sql = f"SAVEPOINT {point}; {sets}{sql}; ROLLBACK TO SAVEPOINT {point}; RELEASE SAVEPOINT {point}"
    else:
        sql = f"{sets}{sql}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while cursor.description is None and cursor.nextset():
            pass  # the SAVEPOINT's and the SETs' results (no rows) come first
        return list(cursor.fetchall())


# For the fuzzy candidates: with a LIMIT the planner likes a sequential scan computing word_similarity on
# every row until enough match, fast for a common word's misspelling but a whole-table scan for a rare
# one; the trigram index bounds both.
INDEX_SCANS = {"enable_seqscan": "off"}


def search_similar(qs: QuerySet, terms: SearchTerms, *, field: str = "search_text") -> QuerySet:
    """Ids of at most FUZZY_CANDIDATES rows of `qs` with a word close to the query (pg_trgm `%>`).
    Give it the bare table (`Model.objects.all()`): with another condition the planner may walk that
    condition's index and compute the similarity row by row (672 ms on 100,000 reels, measured)."""
    return qs.filter(_WordSimilar(F(field), Value(terms.text))).values_list("pk", flat=True)[:FUZZY_CANDIDATES]


# The one plan left with these off: the popularity index read in order, each row checked until enough
# (with a LIMIT, parallel workers cost more to start than the read: milliseconds on a busy machine).
_IN_POPULARITY_ORDER = {
    "enable_seqscan": "off",
    "enable_bitmapscan": "off",
    "enable_sort": "off",
    "max_parallel_workers_per_gather": "0",
}


def _most_popular(qs: QuerySet, condition: Q, *, limit: int, whole: Q) -> list[tuple[Any, bool]]:
    """(id, every word whole) of the `limit` most popular rows of `qs` (annotated `popularity`) meeting
    `condition`, read in popularity order on the selector's index until enough meet it (the caller
    knows they are many)."""
    flag = Case(When(whole, then=Value(True)), default=Value(False), output_field=BooleanField())
    rows = planned_rows(
        qs.filter(condition).order_by("-popularity", "-pk").values_list("pk", flag)[:limit], **_IN_POPULARITY_ORDER
    )
    return [(pk, bool(is_whole)) for pk, is_whole in rows]


def _bare_matches(qs: QuerySet, terms: SearchTerms, field: str) -> QuerySet:
    # Counted on the bare table (no row read when its pages are all visible, unlike the visible rows'
    # conditions), only as far as RANK_ALL_BELOW.
    matches = _Matches(search_vector(field), _TsQuery(Value(terms.tsquery)))
    return qs.model._default_manager.filter(matches).values("pk")[:RANK_ALL_BELOW]


def search_bare_counts(terms: SearchTerms, *tables: QuerySet, field: str = "search_text") -> list[int | None]:
    """For several searches in one answer: each table's matches of `terms` (as far as RANK_ALL_BELOW;
    what search_filter counts first, given to it as `bare`) in one statement, not one each. None on
    the embedded default (no full-text there)."""
    if connection.vendor != "postgresql":
        return [None] * len(tables)
    parts, params = [], []
    for table in tables:
        sql, table_params = _bare_matches(table, terms, field).query.get_compiler(using=table.db).as_sql()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS found)")  # noqa: S608  (the ORM's SQL)
        params.extend(table_params)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)  # noqa: S608  (the ORM's SQL, parameters bound)
        return [int(count) for count in cursor.fetchone()]


def search_filter(
    qs: QuerySet,
    terms: SearchTerms,
    *,
    popularity: Any,
    field: str = "search_text",
    popularity_indexed: bool = False,
    bare: int | None = None,
) -> QuerySet:
    """`qs` narrowed to the rows matching `terms`, annotated `score` (relevance) and `popularity`, for
    ordering by ("-score", "-popularity", "-id") (apps.core.pagination.SearchCursorPagination).

    Relevance is a tier, so that ranking is a top-N sort on plain values, never a ranking function per
    row: every word whole (EXACT), every word as a prefix (PREFIX), else, when those are few, the
    trigram word similarity of a close spelling (below 1). `popularity_indexed`: `qs` has an index on
    (popularity DESC, id DESC) whose condition its filters imply; a common query's tiers are then read
    from it (RANKED_DEPTH rows each, see RANK_ALL_BELOW). `bare`: the count search_bare_counts gave for
    this table and `terms`, when the caller counted several tables at once."""
    qs = qs.annotate(popularity=popularity)
    if connection.vendor != "postgresql":
        # The embedded default: every word a substring of the key; relevance left to popularity.
        for word in terms.words:
            qs = qs.filter(**{f"{field}__contains": word})
        return qs.annotate(score=Value(0.0, output_field=FloatField()))
    matches = _Matches(search_vector(field), _TsQuery(Value(terms.tsquery)))
    qs = qs.alias(_padded=Concat(Value(" "), F(field), Value(" "), output_field=TextField()))
    whole, prefixes = Q(), Q()  # the two tiers as LIKE on the padded key: cheap on a row already read
    for word in terms.words:
        whole &= Q(_padded__contains=f" {word} ")
        prefixes &= Q(_padded__contains=f" {word}")
    found = qs.filter(matches)
    tiers = [When(whole, then=Value(EXACT))]
    default: Any = Value(PREFIX)
    # Many rows? (see _bare_matches)
    if not popularity_indexed:
        bare = None
    elif bare is None:
        bare = _bare_matches(qs, terms, field).count()
    if bare is not None and bare >= RANK_ALL_BELOW:
        # A common query: each tier's most popular rows, read in popularity order.
        top = _most_popular(qs, prefixes, limit=RANKED_DEPTH, whole=whole)
        ids = {pk for pk, _ in top}
        whole_count = sum(1 for _, is_whole in top if is_whole)
        found = qs.filter(pk__in=ids)
        # Fewer than RANKED_DEPTH: these are every visible row; all whole: the whole tier's top rows too.
        if len(top) == RANKED_DEPTH and whole_count < len(top):
            if whole_count * 10 >= len(top):
                whole_top = _most_popular(qs, whole, limit=RANKED_DEPTH, whole=whole)
                found = qs.filter(pk__in=ids | {pk for pk, _ in whole_top})
            else:
                # The whole words are rare among the prefixes' rows ("nam" in "namaste"): read in
                # popularity order they could take the whole index, so they come from the full-text
                # one, all of them.
                whole_matches = _Matches(search_vector(field), _TsQuery(Value(terms.tsquery_whole)))
                found = qs.filter(Q(pk__in=ids) | Q(whole_matches))
    elif (bare is not None and bare < FUZZY_BELOW) or found[:FUZZY_BELOW].count() < FUZZY_BELOW:
        # (the visible rows are some of the bare table's: fewer than FUZZY_BELOW there needs no second count)
        similar = search_similar(qs.model._default_manager.all(), terms, field=field)
        similar_ids = [pk for (pk,) in planned_rows(similar, **INDEX_SCANS)]
        found = qs.filter(Q(matches) | Q(pk__in=similar_ids))
        tiers.append(When(matches, then=Value(PREFIX)))
        default = _WordSimilarity(Value(terms.text), F(field))
    return found.annotate(score=Case(*tiers, default=default, output_field=FloatField()))


# --- Migrations: the key backfilled and the two GIN indexes, PostgreSQL only ---------------------


def search_indexes_add(schema_editor: Any, model: Any, *, prefix: str) -> None:
    """The full-text and the trigram GIN index on `model.search_text` (what search_filter uses)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    from django.contrib.postgres.indexes import GinIndex

    schema_editor.add_index(model, GinIndex(search_vector(), name=f"{prefix}_search_fts_idx"))
    schema_editor.add_index(
        model, GinIndex(fields=["search_text"], opclasses=["gin_trgm_ops"], name=f"{prefix}_search_trgm_idx")
    )


def search_indexes_remove(schema_editor: Any, model: Any, *, prefix: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {prefix}_search_fts_idx")
    schema_editor.execute(f"DROP INDEX IF EXISTS {prefix}_search_trgm_idx")


def search_text_backfill(model: Any, *fields: str, batch_size: int = 2000) -> None:
    """Fill `search_text` of existing rows from `fields` (a migration's historical model has no save())."""
    last = 0
    while True:
        rows = list(model.objects.filter(pk__gt=last).order_by("pk").only("pk", *fields)[:batch_size])
        if not rows:
            return
        for row in rows:
            row.search_text = search_text(*(getattr(row, field) for field in fields))
        model.objects.bulk_update(rows, ["search_text"])
        last = rows[-1].pk
