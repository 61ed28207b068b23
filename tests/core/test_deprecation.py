"""Retiring part of /api/v1/: the old path keeps answering, says it is deprecated and names its successor."""

from datetime import UTC, datetime

import pytest
from django.http import HttpResponse

from apps.core.deprecation import mark_deprecated
from tests.core.test_schema import generate


def test_mark_deprecated_writes_the_standard_headers():
    # given a response of something being retired
    response = HttpResponse()

    # when it is marked deprecated since a date, with a sunset and a successor
    mark_deprecated(
        response,
        since=datetime(2026, 12, 1, tzinfo=UTC),
        sunset=datetime(2027, 6, 1, tzinfo=UTC),
        successor="https://api.example/api/v1/new/",
    )

    # then the headers are those of RFC 9745 (Deprecation), RFC 8594 (Sunset) and RFC 8288 (Link)
    assert response["Deprecation"] == "@1796083200"  # 2026-12-01T00:00:00Z
    assert response["Sunset"] == "Tue, 01 Jun 2027 00:00:00 GMT"
    assert response["Link"] == '<https://api.example/api/v1/new/>; rel="successor-version"'


@pytest.mark.django_db
def test_active_streams_have_a_canonical_slash_path_and_the_old_one_is_deprecated(auth_client, user):
    client = auth_client(user)

    # the canonical path answers plainly
    canonical = client.get("/api/v1/streams/active/")
    assert canonical.status_code == 200
    assert "Deprecation" not in canonical

    # the old path still answers the same list, marked deprecated, linking to its successor
    old = client.get("/api/v1/streams/active", {"category": "Music"})
    assert old.status_code == 200
    assert old.json() == client.get("/api/v1/streams/active/", {"category": "Music"}).json()
    assert old["Deprecation"].startswith("@")
    assert old["Link"] == '<http://testserver/api/v1/streams/active/>; rel="successor-version"'


def test_only_the_canonical_path_is_in_the_schema():
    schema, _ = generate()
    assert "/api/v1/streams/active/" in schema["paths"]
    assert "/api/v1/streams/active" not in schema["paths"]
