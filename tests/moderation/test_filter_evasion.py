"""The word filter against people who try: evasive spellings, look-alikes, Devanagari variants,
romanised Nepali, allowed words, scores; and its measured precision and recall on the labelled set."""

import pytest
from django.core.management import call_command

from apps.moderation.chatfilter import EVASION_BONUS, WILDCARD_PENALTY, Term, check, mask
from apps.moderation.filter_eval import filter_evaluate, phrases_load
from apps.moderation.selectors import banned_terms

TERMS = (
    Term("fuck", severity=85, inside_words=True),
    Term("shit", severity=70, inside_words=True),
    Term("cunt", severity=90, inside_words=True),
    Term("ass", severity=60),
    Term("muji", severity=90, inside_words=True, language="ne-latn"),
    Term("lado", severity=70, language="ne-latn"),
    Term("kukur ko chhora", severity=80, language="ne-latn"),
    Term("मुजी", severity=90, inside_words=True, language="ne"),
    Term("रण्डी", severity=90, inside_words=True, language="ne"),
)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("f*ck you", "**** you"),
        ("f**k", "****"),
        ("sh1t!", "****!"),
        ("$hit", "****"),
        ("f u c k you", "* * * * you"),
        ("f.u.c.k", "*******"),
        ("fu.ck off", "***** off"),
        ("fuuuuuck", "********"),
        ("FuCk", "****"),
        ("ｆｕｃｋ", "****"),  # fullwidth
        ("fսck", "****"),  # Armenian small letter seh
        ("ѕhit", "****"),  # Cyrillic dze
        ("ΑSS", "***"),  # Greek capital alpha
        ("fúck", "****"),
        ("f\u200duck", "*****"),  # zero-width joiner
        ("a$$", "***"),
        ("bullshit", "bull****"),
        ("fvck", "****"),
    ],
)
def test_english_evasions_are_masked(text, masked):
    assert mask(text, TERMS) == (masked, 1)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("मुजी", "****"),
        ("मूजी", "****"),  # long u
        ("मुज़ी", "*****"),  # nukta
        ("म\u200dुजी", "*****"),  # ZWJ
        ("रन्डी", "*****"),  # न + virama = ण + virama = anusvara
        ("रंडी", "****"),
        ("रँडी", "****"),  # chandrabindu
        ("मुजीहरू", "****हरू"),  # inside a longer word
        ("mujee", "*****"),
        ("muzi", "****"),
        ("m u j i", "* * * *"),
        ("laado", "*****"),
        ("kukkur ko chora", "****** ** *****"),
    ],
)
def test_nepali_variants_are_masked(text, masked):
    assert mask(text, TERMS) == (masked, 1)


@pytest.mark.parametrize(
    "text",
    [
        "Scunthorpe United",
        "my assistant",
        "class pass grass",
        "shiitake and shitake",
        "this hit song",
        "I am a b c d",
        "ladoo khana",  # a sweet, not `lado`
        "मेरो कुकुर",  # a dog, not the insult
        "$100 and 2024",
        "wow!!!",
    ],
)
def test_ordinary_words_pass(text):
    assert mask(text, TERMS) == (text, 0)


def test_a_plain_string_term_matches_whole_words_only():
    # given terms passed as plain strings (as a host's extra words are)
    # when one appears inside a longer word and alone
    text, hits = mask("shitake, but shit", ("shit",))
    # then only the whole word is masked
    assert (text, hits) == ("shitake, but ****", 1)


def test_scores_weigh_evasion_up_and_wildcards_down():
    plain = check("fuck", TERMS)
    evasive = check("f.u.c.k", TERMS)
    starred = check("f*ck", TERMS)
    assert plain.score == 85 and not plain.hits[0].evasive
    assert evasive.score == 85 + EVASION_BONUS and evasive.hits[0].evasive
    assert starred.score == 85 + EVASION_BONUS - WILDCARD_PENALTY and starred.hits[0].wildcards
    assert check("hello", TERMS).score == 0
    # the message scores its worst word
    assert check("ass and cunt", TERMS).score == 90


def test_mostly_stars_is_no_word():
    # a wildcard stands for at most half the letters: "****" and "f***" match nothing
    assert mask("**** f*** s***", TERMS) == ("**** f*** s***", 0)


def test_terms_listed_twice_keep_the_worst_reading():
    # given the list's word and a host's extra word with the same spelling
    terms = (Term("shit", severity=50), "SHIT")
    # then it is matched once, with the higher severity
    assert check("shit", terms).score == 80


# --- The labelled set -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_precision_and_recall_on_the_labelled_set_stay_above_what_was_reached():
    # given the labelled phrases (at least 300, three languages) and the starter word list
    phrases = phrases_load()
    assert len(phrases) >= 300
    assert {p.language for p in phrases} == {"en", "ne", "ne-latn"}
    # when the filter reads them
    scores = filter_evaluate(phrases=phrases, terms=banned_terms())
    # then precision and recall stay at least where they were measured (0.981 / 0.990 overall)
    assert scores["all"].precision >= 0.98 and scores["all"].recall >= 0.99, scores["all"].misses
    for language in ("en", "ne", "ne-latn"):
        assert scores[language].precision >= 0.95 and scores[language].recall >= 0.95, language


@pytest.mark.django_db
def test_the_eval_command_prints_precision_recall_and_misses(capsys):
    call_command("chatfilter_eval")
    out = capsys.readouterr().out
    assert "all" in out and "precision=" in out and "recall=" in out and "misses:" in out
