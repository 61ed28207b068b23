"""Every operation documents every error it can answer, derived from the code it runs."""

import importlib.util
import sys
import types

import pytest

from apps.core.error_catalogue import error_catalogue
from apps.core.error_codes import ErrorCode, errors_raised, view_errors
from tests.core.test_schema import generate


@pytest.fixture(scope="module")
def schema():
    built, problems = generate()
    assert problems == []
    return built


def _codes(operation: dict, status: int) -> set[str]:
    body = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    return set(body["allOf"][1]["properties"]["code"]["enum"])


def test_every_operation_documents_its_errors_in_the_one_error_shape(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            errors = {code: r for code, r in operation["responses"].items() if code.startswith(("4", "5"))}
            assert {"429", "503"} <= set(errors), (method, path)
            for status, response in errors.items():
                if "content" not in response:
                    continue  # a status the view documents itself (a 416 without a body)
                body = response["content"]["application/json"]["schema"]
                assert body["allOf"][0] == {"$ref": "#/components/schemas/Error"}, (method, path, status)
                assert _codes(operation, int(status)), (method, path, status)


def test_the_main_flows_document_the_errors_their_services_raise(schema):
    gift_send = schema["paths"]["/api/v1/gifts/send/"]["post"]
    assert {"insufficient_coins", "stream_not_live", "idempotency_key_reused"} <= _codes(gift_send, 409)
    assert {"age_restricted", "gift_og_only", "user_blocked"} <= _codes(gift_send, 403)
    assert "gift_unavailable" in _codes(gift_send, 404)
    assert "invalid" in _codes(gift_send, 400)
    join = schema["paths"]["/api/v1/streams/{stream_id}/join/"]["post"]
    assert "stream_not_live" in _codes(join, 409) and "not_found" in _codes(join, 404)
    upload = schema["paths"]["/api/v1/reels/"]["post"]
    assert "video_too_large" in _codes(upload, 413)
    me = schema["paths"]["/api/v1/me/"]["get"]
    assert "not_authenticated" in _codes(me, 401)


SERVICE = """
from apps.core.exceptions import DomainError


class BrandNewError(DomainError):
    code = "brand_new_error"
    status = 409


def _check(n):
    if n < 0:
        raise BrandNewError(details={"n": n})


def thing_do(n):
    try:
        _check(n)
    except KeyError:
        pass
"""

APIS = """
import apps.core.generated_service as service


class ThingApi:
    def post(self, request):
        return service.thing_do(n=1)
"""


def _load(name: str, path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_a_new_raise_in_a_service_shows_up_in_its_operations_codes(tmp_path):
    """A service module written now, raising an error no view knew of, is followed from the view."""
    # given a service (a module of the apps) that raises a new error two calls deep, and a view calling it
    (tmp_path / "service.py").write_text(SERVICE)
    (tmp_path / "apis.py").write_text(APIS)
    try:
        _load("apps.core.generated_service", tmp_path / "service.py")
        apis = _load("apps.core.generated_apis", tmp_path / "apis.py")

        # then the operation's errors include the new one (and the KeyError it catches is no error of the API)
        assert view_errors(apis.ThingApi, "post") == {ErrorCode(409, "brand_new_error")}
    finally:
        sys.modules.pop("apps.core.generated_service", None)
        sys.modules.pop("apps.core.generated_apis", None)


def test_errors_named_only_in_except_clauses_or_annotations_are_not_raised():
    from apps.core import uploads

    raised = errors_raised([uploads.limit_upload_size])
    assert ErrorCode(400, "error") not in raised


def test_every_error_raised_anywhere_in_the_apps_is_in_the_catalogue():
    # every function and class of every loaded module of the apps, walked like an operation
    entries = [
        value
        for name, module in list(sys.modules.items())
        if name.startswith("apps.") and module is not None
        for value in vars(module).values()
        if getattr(value, "__module__", None) == name and callable(value)
    ]
    raised = errors_raised(entries)
    catalogued = {ErrorCode(entry.status, entry.code) for entry in error_catalogue()}
    assert len(raised) > 50
    assert raised - catalogued == set()


def test_every_code_any_operation_documents_is_in_the_catalogue(schema):
    catalogued = {(entry.status, entry.code) for entry in error_catalogue()}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and "content" in response:
                    for code in _codes(operation, int(status)):
                        assert (int(status), code) in catalogued, (method, path, status, code)


@pytest.mark.django_db
def test_the_error_catalogue_is_published_and_linked_from_the_schema(client, schema):
    page = client.get("/api/docs/errors/")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    listed = client.get("/api/docs/errors/", {"format": "json"}).json()["errors"]
    assert {(row["status"], row["code"]) for row in listed} == {(e.status, e.code) for e in error_catalogue()}
    for row in listed:
        assert f"<code>{row['code']}</code>" in html and row["action"]
    assert {"insufficient_coins", "age_restricted", "throttled"} <= {row["code"] for row in listed}
    assert "/api/docs/errors/" in schema["info"]["description"]
