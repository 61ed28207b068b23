"""Command-line knobs of the benchmarks (loaded when a benchmark under tests/bench/ is named on the command line)."""

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--streams",
        type=int,
        default=None,
        help="bench_moderation: live streams, one frame each every BENCH_INTERVAL s (default BENCH_STREAMS, 150)",
    )
