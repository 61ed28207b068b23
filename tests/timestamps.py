"""The one time format of the API and the rooms, as the tests check it: ISO 8601 in UTC with `Z`,
to the millisecond (`2026-03-01T08:20:09.123Z`). Dates stay dates (`2026-03-01`).

`assert_utc_timestamps` walks any decoded JSON body; the API clients of tests/conftest.py and the
room clients of tests/live/wsclient.py run it on everything they receive.
"""

import re
from typing import Any

UTC_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
# A string that is a date with a time of day, in whatever offset or none (not text that starts so).
LOOKS_LIKE_A_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$")


def timestamps_off_format(data: Any, where: str = "$") -> list[str]:
    """Every string in `data` that is a date with a time but not UTC with Z, as `path: value`."""
    if isinstance(data, dict):
        return [bad for key, value in data.items() for bad in timestamps_off_format(value, f"{where}.{key}")]
    if isinstance(data, list):
        return [bad for i, value in enumerate(data) for bad in timestamps_off_format(value, f"{where}[{i}]")]
    if isinstance(data, str) and LOOKS_LIKE_A_TIME.match(data) and not UTC_TIMESTAMP.match(data):
        return [f"{where}: {data}"]
    return []


def assert_utc_timestamps(data: Any, what: str) -> None:
    off = timestamps_off_format(data)
    assert not off, f"timestamps not in UTC with Z (YYYY-MM-DDTHH:MM:SS.mmmZ) in {what}: {off}"
