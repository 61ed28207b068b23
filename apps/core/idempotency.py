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

from django.db import connection, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.exceptions import IdempotencyKeyInvalid, IdempotencyKeyReused
from apps.core.models import IdempotencyKey
from apps.core.timestamps import ApiJSONEncoder

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


def idempotency_key(request: Request) -> str:
    """The request's Idempotency-Key header; IdempotencyKeyInvalid when it is missing or malformed."""
    key = request.headers.get(HEADER)
    if not key or len(key) > 255 or not key.isprintable():
        raise IdempotencyKeyInvalid()
    return key


def _claim(*, user_id: int, key: str, fingerprint: str) -> int | None:
    """Insert the key's row and return its id, or None when the key is already taken (one round trip,
    no savepoint: ON CONFLICT DO NOTHING never aborts the transaction)."""
    table = connection.ops.quote_name(IdempotencyKey._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, key, request_fingerprint, response_status, response_body, created_at)"  # noqa: S608
            " VALUES (%s, %s, %s, 0, '', %s) ON CONFLICT (user_id, key) DO NOTHING RETURNING id",
            [user_id, key, fingerprint, timezone.now()],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def idempotent(*, required: bool = True) -> Callable:
    """Decorate an APIView method so that a repeated Idempotency-Key replays the first response."""

    def decorator(view_method: Callable) -> Callable:
        @functools.wraps(view_method)
        def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
            if HEADER not in request.headers and not required:
                return view_method(self, request, *args, **kwargs)
            key = idempotency_key(request)
            fingerprint = request_fingerprint(request)
            user_id = request.user.pk
            if user_id is None:  # idempotent views are behind IsAuthenticated; this keeps the key per user
                raise exceptions.NotAuthenticated()
            with transaction.atomic():
                # Claim the key: a concurrent twin's insert waits here until we commit or roll back, then
                # finds the key taken and replays what we stored.
                claim_id = _claim(user_id=user_id, key=key, fingerprint=fingerprint)
                if claim_id is None:
                    return _replay(IdempotencyKey.objects.get(user_id=user_id, key=key), fingerprint)
                response = view_method(self, request, *args, **kwargs)
                if response.status_code >= 400:
                    transaction.set_rollback(True)  # errors are not remembered, and nothing is written
                    return response
                IdempotencyKey.objects.filter(pk=claim_id).update(
                    response_status=response.status_code,
                    response_body=json.dumps(response.data, cls=ApiJSONEncoder, ensure_ascii=False),
                )
                return response

        # The schema names the header, or a client generated from it could not send it.
        header = OpenApiParameter(
            HEADER,
            str,
            OpenApiParameter.HEADER,
            required=required,
            description="A key the client makes per action (a UUID); a retry with the same key replays the answer.",
        )
        return extend_schema(parameters=[header])(wrapper)

    return decorator
