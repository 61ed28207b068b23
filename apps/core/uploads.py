"""A request-scoped upload handler that stops reading a multipart body past an endpoint's size limit.

Django's own handlers would spool the whole body to disk before any view code runs; this one
raises as soon as the running total passes the limit, so an oversize upload costs at most the
limit in disk and bandwidth. The body may exceed the file limit by the non-file part of the form
(DATA_UPLOAD_MAX_MEMORY_SIZE), the same allowance the proxies get (REQUEST_BODY_MAX_BYTES).
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest

from apps.core.exceptions import DomainError


class MaxSizeUploadHandler(FileUploadHandler):
    def __init__(self, request: HttpRequest | None = None, *, max_bytes: int, too_large: type[DomainError]) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.too_large = too_large
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):  # noqa: N803
        if content_length and content_length > self.max_bytes + settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            raise self.too_large(details={"max_bytes": self.max_bytes, "received_bytes": content_length})
        return None

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            raise self.too_large(details={"max_bytes": self.max_bytes})
        return raw_data

    def file_complete(self, file_size: int) -> None:
        self.received = 0  # per file: the next handler builds the file object
        return None


def limit_upload_size(request: HttpRequest, *, max_bytes: int, too_large: type[DomainError]) -> None:
    """Install the size cap on a Django request; call before anything reads request.FILES."""
    handlers = request.upload_handlers
    if not isinstance(handlers, list):  # Django's ImmutableList once the body has been parsed
        raise AttributeError("You cannot alter upload handlers after the upload has been processed.")
    handlers.insert(0, MaxSizeUploadHandler(request, max_bytes=max_bytes, too_large=too_large))
