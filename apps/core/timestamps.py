"""The one time format of the API and the rooms: ISO 8601 in UTC with `Z`, to the millisecond
(`2026-03-01T20:30:15.123Z`); clients localise. Dates stay dates (`2026-03-01`).

The API's JSON renderer writes every datetime through `iso_utc` (serializers hand datetimes over
unformatted: REST_FRAMEWORK["DATETIME_FORMAT"] is None), and code that puts a time into a room
event or an error's details calls it itself. The admin and the HTML pages keep showing Kathmandu
time (TIME_ZONE).
"""

from datetime import UTC, datetime
from typing import Any, overload

from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder


@overload
def iso_utc(value: datetime) -> str: ...
@overload
def iso_utc(value: None) -> None: ...
def iso_utc(value: datetime | None) -> str | None:
    """`value` in the one time format (None stays None; a naive datetime is taken as TIME_ZONE's)."""
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


class ApiJSONEncoder(JSONEncoder):
    """DRF's encoder, with datetimes in the one time format."""

    def default(self, obj: Any) -> Any:
        if isinstance(obj, datetime):
            return iso_utc(obj)
        return super().default(obj)


class ApiJSONRenderer(JSONRenderer):
    encoder_class = ApiJSONEncoder
