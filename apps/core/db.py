"""Database helpers that Django does not have."""

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection
from django.db.backends.utils import CursorWrapper
from psycopg import _queries

# psycopg splits a query's text at its placeholders in Python on every execution, caching the split
# only for queries under 4 KB; a hot statement is longer (a gift send: 4.5 KB, ~0.07 ms per send).
# The statements prepared here are a few fixed texts: keep their split.
_split_cached = functools.lru_cache(maxsize=64)(_queries._query2pg_nocache)


class _SplitOnceQuery(_queries.PostgresQuery):
    """psycopg's query conversion with the split of every query text kept (the same result)."""

    __slots__ = ()

    def convert(self, query: Any, vars: Any) -> None:
        if vars is None or not isinstance(query, str):
            super().convert(query, vars)
            return
        self.query, self._want_formats, self._order, self._parts = _split_cached(
            query.encode(self._encoding), self._encoding
        )
        self.dump(vars)


class _PreparingCursor(psycopg.Cursor):
    """Binds parameters on the server and prepares every statement it runs."""

    _query_cls = _SplitOnceQuery

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


@contextmanager
def prepared_cursor() -> Iterator[CursorWrapper]:
    """A cursor whose statements PostgreSQL plans once per connection and then reuses.

    Django's PostgreSQL cursors bind parameters on the client, so every execution is parsed and
    planned again: for a large hot statement (a gift send) planning costs as much as running it.
    This cursor binds on the server and prepares each statement on first use; it is wrapped like
    any Django cursor (errors translated, queries logged and counted). Other databases get a plain one.
    psycopg prepares only on connections with a prepare_threshold: settings gives them one.
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    # As Django's own cursor() does: a persistent connection the server dropped since the last
    # request (a restart, a failover) is replaced here, not found dead by the statement.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = _PreparingCursor(connection.connection)
    # Django's wrappers take any DB-API cursor (the stubs name only their own).
    wrapped = (
        connection.make_debug_cursor(raw)  # type: ignore[arg-type]
        if connection.queries_logged
        else connection.make_cursor(raw)  # type: ignore[arg-type]
    )
    with wrapped as cursor:
        yield cursor
