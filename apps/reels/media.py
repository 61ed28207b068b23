"""Serving a stored file with HTTP range requests (RFC 9110 §14), through Django's storage API.

Used where the app itself serves media (the embedded default, or storage without its own URLs).
One byte range is honoured with 206 and Content-Range; a range past the end is 416; several
ranges, a malformed header or a stale If-Range get the whole file with 200, as the RFC allows.
"""

import re
from collections.abc import Iterator
from typing import Literal

from django.core.files.storage import Storage
from django.db.models.fields.files import FieldFile
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

CHUNK_BYTES = 64 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | Literal["unsatisfiable"]:
    """(first, last) inclusive for one satisfiable range; None to send everything; "unsatisfiable"."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None  # several ranges or another unit: ignore the header
    start, end = match.groups()
    if not start and not end:
        return None
    if not start:  # suffix: the last N bytes
        length = int(end)
        if length == 0:
            return "unsatisfiable"
        return max(size - length, 0), size - 1
    first = int(start)
    if first >= size:
        return "unsatisfiable"
    last = min(int(end), size - 1) if end else size - 1
    if last < first:
        return None
    return first, last


def _stream(storage: Storage, name: str, first: int, length: int) -> Iterator[bytes]:
    handle = storage.open(name, "rb")
    try:
        handle.seek(first)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


def ranged_file_response(
    request: HttpRequest, *, field_file: FieldFile, content_type: str, etag: str
) -> HttpResponse | StreamingHttpResponse:
    name = field_file.name
    if not name:
        raise ValueError("The field holds no file.")
    size = field_file.storage.size(name)
    requested = parse_range(request.headers.get("Range"), size)
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        requested = None  # the client's partial copy is of another version: send it all
    common = {"Accept-Ranges": "bytes", "ETag": etag, "Cache-Control": "private, max-age=3600"}
    if requested == "unsatisfiable":
        return HttpResponse(status=416, headers={**common, "Content-Range": f"bytes */{size}"})
    if requested is None:
        first, last, status = 0, size - 1, 200
    else:
        first, last = requested
        status = 206
    length = last - first + 1 if size else 0
    response = StreamingHttpResponse(
        _stream(field_file.storage, name, first, length), status=status, content_type=content_type, headers=common
    )
    response["Content-Length"] = str(length)
    if status == 206:
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    return response
