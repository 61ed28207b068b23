"""Idempotency-Key for money endpoints: a retry replays the first response instead of acting twice.

The stored key is inserted in the same transaction as the work it guards, so the work and the
record of it commit or roll back together. Failures (4xx) are not stored: a retry after an error
tries again, which is what a client that fixed its request (or topped up) expects.
"""

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from apps.core.exceptions import IdempotencyKeyInvalid, IdempotencyKeyReused
from apps.core.models import IdempotencyKey

HEADER = "Idempotency-Key"


def request_fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _replay(stored: IdempotencyKey, fingerprint: str) -> Response:
    if stored.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(details={"key": stored.key})
    return Response(
        json.loads(stored.response_body), status=stored.response_status, headers={"Idempotent-Replayed": "true"}
    )


def idempotent(*, required: bool = True) -> Callable:
    """Decorate an APIView method so that a repeated Idempotency-Key replays the first response."""

    def decorator(view_method: Callable) -> Callable:
        @functools.wraps(view_method)
        def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
            key = request.headers.get(HEADER)
            if key is None and not required:
                return view_method(self, request, *args, **kwargs)
            if not key or len(key) > 255 or not key.isprintable():
                raise IdempotencyKeyInvalid()
            fingerprint = request_fingerprint(request)
            stored = IdempotencyKey.objects.filter(user=request.user, key=key).first()
            if stored is not None:
                return _replay(stored, fingerprint)
            with transaction.atomic():
                try:
                    # Claim the key first: a concurrent twin blocks here until we commit or roll back.
                    with transaction.atomic():
                        claim = IdempotencyKey.objects.create(
                            user=request.user,
                            key=key,
                            request_fingerprint=fingerprint,
                            response_status=0,
                            response_body="",
                        )
                except IntegrityError:
                    return _replay(IdempotencyKey.objects.get(user=request.user, key=key), fingerprint)
                response = view_method(self, request, *args, **kwargs)
                if response.status_code >= 400:
                    transaction.set_rollback(True)  # errors are not remembered, and nothing is written
                    return response
                claim.response_status = response.status_code
                claim.response_body = json.dumps(response.data, cls=JSONEncoder, ensure_ascii=False)
                claim.save(update_fields=["response_status", "response_body"])
                return response

        return wrapper

    return decorator
