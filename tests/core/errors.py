"""Assertions shared by the API tests: the one error shape, and "nothing was written"."""

from typing import Any

from django.apps import apps

# The tables a request to the accounts, core or wallet endpoints could write to.
WATCHED_APPS = ("accounts", "core", "token_blacklist", "wallet")


def assert_error(response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is `{"code", "message", "details"}` with that status (and code); returns the body."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"code", "message", "details"}, body
    assert isinstance(body["code"], str) and body["code"], body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["details"], dict), body
    if code is not None:
        assert body["code"] == code, body
    return body


def db_snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of the watched tables, for comparing before and after a refused request."""
    snapshot = {}
    for config in apps.get_app_configs():
        if config.label not in WATCHED_APPS:
            continue
        for model in config.get_models(include_auto_created=True):
            snapshot[model._meta.label] = list(model.objects.order_by("pk").values())
    return snapshot


def assert_nothing_written(before: dict[str, list[dict[str, Any]]]) -> None:
    after = db_snapshot()
    changed = [label for label in before if before[label] != after[label]]
    assert not changed, f"rows changed in {changed}"
