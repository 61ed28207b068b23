from pathlib import Path

from django.core.management.base import BaseCommand

from apps.moderation.filter_eval import EVAL_FILE, filter_evaluate, phrases_load
from apps.moderation.selectors import banned_terms


class Command(BaseCommand):
    help = (
        "Measure the word filter (the active banned words) on the labelled phrases: precision and recall, "
        "overall and per language, then every phrase it missed or wrongly flagged."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--file", type=Path, default=EVAL_FILE, help="A TSV: label, language, kind, text.")

    def handle(self, *args, **options) -> None:
        phrases = phrases_load(options["file"])
        scores = filter_evaluate(phrases=phrases, terms=banned_terms())
        for key, score in scores.items():
            self.stdout.write(
                f"{key:8} phrases={score.total:4} precision={score.precision:.3f} recall={score.recall:.3f} "
                f"(tp={score.true_pos} fp={score.false_pos} fn={score.false_neg} tn={score.true_neg})"
            )
        misses = scores["all"].misses
        self.stdout.write(f"misses: {len(misses)}")
        for what, phrase in misses:
            self.stdout.write(f"  {what:15} {phrase.language:7} {phrase.kind:9} {phrase.text}")
