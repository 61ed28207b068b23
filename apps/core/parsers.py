"""Request parsers of the API."""

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from apps.core.exceptions import InvalidCharacters
from apps.core.nul import NUL, query_dict_holds_nul


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, except that a body nested too deeply for Python's decoder (`[[[[...`) is a
    400 parse error instead of a RecursionError and a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None


def _refuse_nul(parsed: parsers.DataAndFiles) -> parsers.DataAndFiles:
    if query_dict_holds_nul(parsed.data.lists()) or any(
        NUL in name or NUL in (upload.name or "") for name, upload in parsed.files.items()
    ):
        raise InvalidCharacters()
    return parsed


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing NUL in field names, values and file names
    (apps.core.middleware.RefuseNulMiddleware checks every other kind of body)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        return _refuse_nul(super().parse(stream, media_type, parser_context))


class FormParser(parsers.FormParser):
    """DRF's form parser, refusing NUL like the multipart parser (the middleware sees form bodies
    only up to DATA_UPLOAD_MAX_MEMORY_SIZE with a Content-Length)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        if query_dict_holds_nul(parsed.lists()):
            raise InvalidCharacters()
        return parsed
