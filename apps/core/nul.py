"""NUL characters (0x00) in requests: PostgreSQL refuses text holding one (DataError, a 500 if it
reaches a query), so the edge refuses them first: RefuseNulMiddleware (path, query, JSON and form
bodies) and the multipart parsers of apps.core.parsers (which must parse after a view's upload limits)."""

from collections.abc import Iterable
from typing import Any

NUL = "\x00"


def holds_nul(value: Any) -> bool:
    """True when a string anywhere in a parsed value (dict keys included) holds NUL."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(holds_nul(item) for item in value)
    return False


def query_dict_holds_nul(pairs: Iterable[tuple[str, list[Any]]]) -> bool:
    """True when a QueryDict's `lists()` has NUL in a key or a (string) value."""
    return any(NUL in key or any(isinstance(v, str) and NUL in v for v in values) for key, values in pairs)
