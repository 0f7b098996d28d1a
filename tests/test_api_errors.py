"""Every bad request under /api/ gets the JSON error envelope with a 4xx, never a 500 or a page:
bodies (malformed, too deep, too large, NaN, NUL), paths (unknown, malformed ids), methods,
query parameters and the fields of every write endpoint."""

import json
import time

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.test import RequestFactory

from agentops import urls
from agentops.asgi import application
from approvals.models import ApprovalRequest
from runs.models import Run
from tools.models import Tool
from tests.demo.conftest import DEMO_DATABASES

pytestmark = pytest.mark.django_db(databases=DEMO_DATABASES)  # demo_api seeds the demo

DEEP_JSON = "[" * 10_000 + "]" * 10_000


def write_endpoints(demo_api) -> list[tuple[str, str]]:
    """(method, path) of every endpoint that reads a body."""
    return [
        ("post", "/api/v1/runs/"),
        ("post", "/api/v1/tools/"),
        ("patch", f"/api/v1/tools/{demo_api['name']}/"),
        ("post", f"/api/v1/approvals/{demo_api['id']}/approve/"),
        ("post", f"/api/v1/approvals/{demo_api['id']}/reject/"),
    ]


def send(demo_api, method: str, path: str, body: str | bytes, **extra):
    return getattr(demo_api["client"], method)(path, body, content_type="application/json", **extra)


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    return response.json()["error"]


def state() -> tuple:
    """What a write endpoint could change: runs, approval decisions, tools."""
    return (Run.objects.count(), list(ApprovalRequest.objects.values_list("status", flat=True)),
            list(Tool.objects.order_by("pk").values_list("pk", "updated_at")))


# -- bodies ------------------------------------------------------------------------------------


def test_a_body_nested_ten_thousand_deep_is_a_400_too_deep_on_every_write_endpoint(demo_api):
    before = state()

    for method, path in write_endpoints(demo_api):
        assert error_of(send(demo_api, method, path, DEEP_JSON), 400)["code"] == "too_deep", path

    assert state() == before


def nested(levels: int) -> dict:
    value = {"a": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_a_body_64_levels_deep_is_read_and_65_levels_is_too_deep(demo_api):
    at_limit = json.dumps({"agent": "support", "input": nested(63)})
    over = json.dumps({"agent": "support", "input": nested(64)})

    assert send(demo_api, "post", "/api/v1/runs/", at_limit).status_code == 201
    assert error_of(send(demo_api, "post", "/api/v1/runs/", over), 400)["code"] == "too_deep"


def test_brackets_inside_strings_do_not_count_as_nesting(demo_api):
    body = json.dumps({"agent": "support", "message": "[" * 1000 + "{" * 1000})

    assert send(demo_api, "post", "/api/v1/runs/", body).status_code == 201


def test_a_body_of_many_unterminated_strings_is_refused_quickly(demo_api):
    body = '{"agent": "' + '\\"' * 1_000_000  # a million escaped quotes, the string never ends

    started = time.monotonic()
    response = send(demo_api, "post", "/api/v1/runs/", body)

    assert error_of(response, 400)["code"] == "invalid_json" and time.monotonic() - started < 5


@pytest.mark.parametrize("body", [
    '{"agent": "support", "message": ',                      # cut short
    '{"agent": "support", "input": {"x": NaN}}',               # not JSON numbers
    '{"agent": "support", "input": {"x": 1e400}}',
    '{"agent": "support", "message": "nul \\u0000 inside"}',  # no database column stores it
    '{"agent": "support", "input": {"k\\u0000": 1}}',
], ids=["truncated", "nan", "infinite", "nul-in-value", "nul-in-key"])
def test_bodies_no_database_could_store_are_a_400_invalid_json(demo_api, body):
    before = state()

    assert error_of(send(demo_api, "post", "/api/v1/runs/", body), 400)["code"] == "invalid_json"
    assert state() == before


def test_a_body_that_is_not_utf8_is_a_400_invalid_json(demo_api):
    response = send(demo_api, "post", "/api/v1/runs/", b'{"agent": "\xff\xfe"}')

    assert error_of(response, 400)["code"] == "invalid_json"


def test_a_ten_megabyte_body_is_a_413_on_every_write_endpoint(demo_api):
    big = json.dumps({"agent": "support", "message": "x" * 10_000_000})
    before = state()

    for method, path in write_endpoints(demo_api):
        assert error_of(send(demo_api, method, path, big), 413)["code"] == "payload_too_large", path

    assert state() == before


def test_a_body_one_byte_over_the_limit_is_refused_and_one_at_it_is_read(demo_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200
    padding = 200 - len(json.dumps({"agent": "support", "message": ""}))
    at_limit = json.dumps({"agent": "support", "message": "x" * padding})

    assert send(demo_api, "post", "/api/v1/runs/", at_limit).status_code == 201
    assert send(demo_api, "post", "/api/v1/runs/", at_limit + " ").status_code == 413


def test_a_chunked_body_without_content_length_is_a_411_not_an_empty_body():
    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    communicator = HttpCommunicator(application, "POST", "/api/v1/runs/", body=b'{"agent": "support"}',
                                    headers=headers)

    response = async_to_sync(communicator.get_response)()

    assert response["status"] == 411
    assert json.loads(response["body"])["error"]["code"] == "length_required"


def test_a_form_body_is_a_415_the_api_reads_json_only(demo_api):
    response = demo_api["client"].post("/api/v1/runs/", {"agent": "support", "message": "hi"}, format="multipart")

    assert error_of(response, 415)["code"] == "unsupported_media_type"


# -- unknown and ill-typed fields --------------------------------------------------------------


def test_unknown_fields_are_refused_by_name_on_every_write_endpoint(demo_api):
    before = state()

    for method, path in write_endpoints(demo_api):
        body = json.dumps({"tenant": 2, "status": "succeeded", "seen_hash": "x", "agent": "support"})
        error = error_of(send(demo_api, method, path, body), 400)
        assert error["code"] == "unknown_field", path
        assert {"tenant", "status"} <= set(error["details"]) and "tenant" in error["message"], path

    assert state() == before


@pytest.mark.parametrize("field, value", [("message", 42), ("agent", 7), ("thread", True), ("on_behalf_of", 1)])
def test_a_string_field_given_anything_but_a_string_is_a_400(demo_api, field, value):
    body = {"agent": "support", "message": "hi", field: value}

    error = error_of(send(demo_api, "post", "/api/v1/runs/", json.dumps(body)), 400)

    assert error["code"] == "invalid" and field in error["details"]
    assert not Run.objects.filter(input={"message": "42"}).exists()


@pytest.mark.parametrize("field", ["required_approvals", "expires_in_seconds", "approver_group"])
def test_an_integer_beyond_what_the_database_stores_is_a_400(demo_api, field):
    before = state()

    response = send(demo_api, "patch", f"/api/v1/tools/{demo_api['name']}/", json.dumps({field: 10**30}))

    error = error_of(response, 400)
    assert error["code"] == "invalid" and field in error["details"]
    assert state() == before


def test_an_idempotency_key_longer_than_stored_is_a_400(demo_api):
    body = json.dumps({"agent": "support", "message": "hi"})

    response = send(demo_api, "post", "/api/v1/runs/", body, HTTP_IDEMPOTENCY_KEY="k" * 201)

    assert error_of(response, 400)["code"] == "invalid"


# -- paths and methods -------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/api/v1/nothing-here/", "/api/v2/runs/", "/api/", "/api/v1/runs/not-a-uuid/", "/api/v1/runs/not-a-uuid/steps/",
    "/api/v1/approvals/abc/", "/api/v1/runs/123e4567-e89b-12d3-a456-426614174000/",
])
def test_unknown_paths_and_malformed_ids_are_a_json_404(demo_api, path):
    assert error_of(demo_api["client"].get(path), 404)["code"] == "not_found"


def test_a_missing_trailing_slash_is_a_404_that_names_the_endpoint(demo_api):
    error = error_of(demo_api["client"].post("/api/v1/runs", {}, format="json"), 404)

    assert "/api/v1/runs/" in error["message"]


def test_a_path_without_an_api_key_is_still_a_json_404(client):
    assert error_of(client.delete("/api/v1/nothing-here/"), 404)["code"] == "not_found"


@pytest.mark.parametrize("method", ["delete", "put", "patch"])
def test_methods_an_endpoint_lacks_are_a_405_even_before_permissions(demo_api, method):
    for path in ("/api/v1/runs/", f"/api/v1/runs/{demo_api['run_id']}/"):
        response = getattr(demo_api["client"], method)(path, {}, format="json")

        assert error_of(response, 405)["code"] == "method_not_allowed"
        assert "GET" in response["Allow"]


def test_without_credentials_an_unsupported_method_is_still_a_401(client, demo_api):
    assert error_of(client.delete(f"/api/v1/runs/{demo_api['run_id']}/"), 401)["code"] == "not_authenticated"


def test_a_client_that_accepts_only_html_gets_a_json_406(demo_api):
    response = demo_api["client"].get("/api/v1/runs/", HTTP_ACCEPT="text/html")

    assert error_of(response, 406)["code"] == "not_acceptable"


@pytest.mark.parametrize("query", ["?agent=%00", "?status=queued%00", "?thread=a%00b"])
def test_a_nul_in_the_query_is_a_400(demo_api, query):
    assert error_of(demo_api["client"].get(f"/api/v1/runs/{query}"), 400)["code"] == "invalid"


def test_a_nul_in_the_path_is_a_400(demo_api):
    assert error_of(demo_api["client"].get("/api/v1/tools/billing%00refund/"), 400)["code"] == "invalid"


# -- query parameters --------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["limit=-1", "limit=0", "limit=x", "limit=501", "offset=-3", "offset=abc",
                                   f"offset={10**30}"])
def test_bad_pagination_on_lists_is_a_400_naming_the_parameter(demo_api, query):
    error = error_of(demo_api["client"].get(f"/api/v1/agents/?{query}"), 400)

    assert error["code"] == "invalid" and query.split("=")[0] in error["details"]


@pytest.mark.parametrize("query", ["limit=-1", "limit=0", "limit=x", "limit=501", f"limit={10**30}"])
def test_bad_limits_on_cursor_lists_are_a_400_naming_the_parameter(demo_api, query):
    error = error_of(demo_api["client"].get(f"/api/v1/runs/?{query}"), 400)

    assert error["code"] == "invalid" and "limit" in error["details"]


@pytest.mark.parametrize("query", ["limit=-1", "limit=0", "limit=1001", "after=-1", "after=x", f"after={10**30}"])
def test_bad_paging_of_steps_is_a_400_naming_the_parameter(demo_api, query):
    error = error_of(demo_api["client"].get(f"/api/v1/runs/{demo_api['run_id']}/steps/?{query}"), 400)

    assert error["code"] == "invalid" and query.split("=")[0] in error["details"]


def test_good_pagination_pages(demo_api):
    first = demo_api["client"].get("/api/v1/runs/?limit=1").json()
    second = demo_api["client"].get(first["next"]).json()

    assert len(first["results"]) == 1 and len(second["results"]) == 1 and second["next"] is None
    assert first["results"][0]["id"] != second["results"][0]["id"]


# -- the last resort ---------------------------------------------------------------------------


def test_the_500_handler_answers_the_envelope_under_api_and_a_page_elsewhere():
    handler = urls.handler500
    api = handler(RequestFactory().get("/api/v1/runs/"))
    page = handler(RequestFactory().get("/runs/"))

    assert api.status_code == 500 and json.loads(api.content)["error"]["code"] == "server_error"
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")


def test_a_request_django_refuses_before_any_view_is_a_json_400_under_api(client, settings):
    settings.ALLOWED_HOSTS = ["agentops.example"]

    response = client.get("/api/v1/runs/", HTTP_HOST="evil.example")

    assert error_of(response, 400)["code"] == "bad_request"
