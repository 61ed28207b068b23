"""Benchmark: the word filter's cost per message, beside its ceiling in the same run.

A script, not a test. It reads the labelled phrases (apps/moderation/data/filter_eval.tsv) and a
400-character chat message, with the starter word list (the migrations' list, built here without a
database), and prints messages/s for:
  1. the filter (`chatfilter.check`: skeleton, one precompiled pattern, allowed words, scoring);
  2. its ceiling: the same texts through one precompiled whole-word regex of the same terms, no
     normalisation (what the filter did before it read through evasions);
and the filter as a share of the ceiling. Load average before and after.

    .venv/bin/python tests/bench/bench_chatfilter.py [--seconds 5]

No database, no network, one process.
"""

import argparse
import importlib
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from apps.moderation import chatfilter  # noqa: E402
from apps.moderation.filter_eval import phrases_load  # noqa: E402


def starter_terms() -> tuple[chatfilter.Term, ...]:
    seed = importlib.import_module("apps.moderation.migrations.0011_filter_seed_severity")
    return tuple(
        chatfilter.Term(text=term, severity=severity, inside_words=inside, language=language)
        for term, (language, severity, inside) in seed.STARTER.items()
    )


def rate(fn, texts: list[str], seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for text in texts:
            fn(text)
        done += len(texts)
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    terms = starter_terms()
    plain = re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(t.text) for t in sorted(terms, key=lambda t: -len(t.text))) + r")(?!\w)",
        re.IGNORECASE,
    )
    started = time.perf_counter()
    chatfilter.check("warm up", terms)
    print(f"first call (confusables table + pattern compile): {time.perf_counter() - started:.3f} s")
    for name, texts in (
        ("labelled phrases", [p.text for p in phrases_load()]),
        ("400-char message", ["namaste sathi haru, kasto chha? great stream tonight, f*ck yeah " * 6]),
    ):
        ceiling = rate(lambda t: plain.subn("*", t), texts, args.seconds / 4)
        ours = rate(lambda t: chatfilter.check(t, terms), texts, args.seconds / 4)
        print(
            f"{name:17} filter {ours:10.0f} msg/s ({1e6 / ours:7.1f} µs)  ceiling (plain regex) {ceiling:10.0f} msg/s"
            f"  filter/ceiling = {ours / ceiling:.3f}"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
