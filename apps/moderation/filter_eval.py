"""The word filter measured on a labelled set (data/filter_eval.tsv): precision, recall and the misses."""

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from apps.moderation import chatfilter

EVAL_FILE = Path(__file__).resolve().parent / "data" / "filter_eval.tsv"


@dataclass(frozen=True)
class Phrase:
    offensive: bool
    language: str
    kind: str
    text: str


@dataclass
class Score:
    true_pos: int = 0
    false_pos: int = 0
    false_neg: int = 0
    true_neg: int = 0
    misses: list[tuple[str, Phrase]] = field(default_factory=list)  # ("missed" | "wrongly flagged", phrase)

    @property
    def precision(self) -> float:
        found = self.true_pos + self.false_pos
        return self.true_pos / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_pos + self.false_neg
        return self.true_pos / wanted if wanted else 1.0

    @property
    def total(self) -> int:
        return self.true_pos + self.false_pos + self.false_neg + self.true_neg


def phrases_load(path: Path = EVAL_FILE) -> list[Phrase]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [
        Phrase(offensive=row["label"] == "offensive", language=row["language"], kind=row["kind"], text=row["text"])
        for row in rows
    ]


def filter_evaluate(*, phrases: Sequence[Phrase], terms: Sequence["str | chatfilter.Term"]) -> dict[str, Score]:
    """Scores overall ("all") and per language, a phrase counting as flagged when the filter finds any term."""
    scores: dict[str, Score] = {"all": Score()}
    for phrase in phrases:
        flagged = bool(chatfilter.check(phrase.text, terms).hits)
        for key in ("all", phrase.language):
            score = scores.setdefault(key, Score())
            if phrase.offensive and flagged:
                score.true_pos += 1
            elif phrase.offensive:
                score.false_neg += 1
                if key == "all":
                    score.misses.append(("missed", phrase))
            elif flagged:
                score.false_pos += 1
                if key == "all":
                    score.misses.append(("wrongly flagged", phrase))
            else:
                score.true_neg += 1
    return scores
