"""Every route under /api/, walked from the URL resolver and the OpenAPI schema rather than listed
by hand, so that a new endpoint is held to the same rules: errors in the JSON envelope whatever
the method, id or body; text fields that take only strings and are bounded in the schema."""

import json

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from agentops.api import StrictInputMixin, StrictText
from tests.demo.conftest import DEMO_DATABASES

pytestmark = pytest.mark.django_db(databases=DEMO_DATABASES)  # demo_api seeds the demo

METHODS = ("get", "post", "put", "patch", "delete", "options", "head")
# An existing object for each path parameter, by the parameter's name and the route's first segment.
SECRET_NAME = "ROUTE_WALK"


def api_routes(resolver=None, prefix="") -> list[tuple[str, URLPattern]]:
    """(route, pattern) of every endpoint under /api/, the catch-all 404 aside."""
    found = []
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += api_routes(entry, route)
        elif route.startswith("api/") and entry.name != "api-not-found":
            found.append((route, entry))
    return found


def concrete(route: str, demo_api) -> str:
    values = {"run_id": demo_api["run_id"], "pk": str(demo_api["id"]), "slug": demo_api["slug"],
              "name": SECRET_NAME if route.startswith("api/v1/secrets/") else demo_api["name"],
              "seq": str(demo_api["seq"]), "username": demo_api["username"], "thread_id": demo_api["thread_id"],
              "suite_id": str(demo_api["suite_id"]), "eval_run_id": str(demo_api["eval_run_id"])}
    path = "/" + route
    for name, value in values.items():
        for converter in ("uuid", "int", "slug", "str", "path"):
            path = path.replace(f"<{converter}:{name}>", value)
    assert "<" not in path, f"no value for a parameter of {route}"
    return path


def allowed_methods(pattern: URLPattern) -> set[str]:
    view = pattern.callback.view_class
    return {method for method in METHODS if method in view.http_method_names and hasattr(view, method)}


def assert_envelope(response, status: int | None = None) -> dict:
    if status is not None:
        assert response.status_code == status, (response.status_code, response.content[:200])
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    if response.request["REQUEST_METHOD"] == "HEAD":
        return {}
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"} and error["code"] and error["message"]
    return error


@pytest.fixture(autouse=True)
def unthrottled(settings):
    """The walks send every method to every route with one key: more than a minute's budget of
    writes (agentops.ratelimit, tested in tests/test_ratelimit.py)."""
    settings.API_RATE_READ_PER_MINUTE = settings.API_RATE_WRITE_PER_MINUTE = 100_000


@pytest.fixture
def demo_api_with_secret(demo_api):
    demo_api["client"].put(f"/api/v1/secrets/{SECRET_NAME}/", {"value": "s3cret"}, format="json")
    return demo_api


def test_the_walk_finds_every_endpoint():
    routes = {route for route, _ in api_routes()}

    assert {"api/v1/runs/<uuid:run_id>/", "api/v1/secrets/<str:name>/", "api/schema/", "api/docs/"} <= routes


def test_every_method_an_endpoint_lacks_is_a_json_405_naming_the_allowed_ones(demo_api_with_secret):
    client = demo_api_with_secret["client"]
    for route, pattern in api_routes():
        path = concrete(route, demo_api_with_secret)
        for method in set(METHODS) - allowed_methods(pattern) - {"head"}:
            response = getattr(client, method)(path)

            assert assert_envelope(response, 405)["code"] == "method_not_allowed", (method, path)
            assert "GET" in response["Allow"] or "POST" in response["Allow"], (method, path)


def test_every_answer_of_every_method_that_is_an_error_is_the_envelope(demo_api_with_secret):
    client = demo_api_with_secret["client"]
    for route, _ in api_routes():
        path = concrete(route, demo_api_with_secret)
        for method in METHODS:
            body = {} if method in ("get", "head", "options") else {"data": "{}", "content_type": "application/json"}
            response = getattr(client, method)(path, **body)

            if response.status_code >= 400:
                assert_envelope(response)


def test_a_malformed_or_unknown_id_in_every_route_is_a_json_404(demo_api_with_secret):
    checked = 0
    for route, _ in api_routes():
        if "<" not in route:
            continue
        path = concrete(route, demo_api_with_secret)
        for bad in ("not-a-valid-id", "123e4567-e89b-12d3-a456-426614174000", "99999999"):
            for value in (demo_api_with_secret["run_id"], str(demo_api_with_secret["id"]), SECRET_NAME,
                          demo_api_with_secret["name"], demo_api_with_secret["slug"],
                          demo_api_with_secret["username"], str(demo_api_with_secret["seq"]),
                          demo_api_with_secret["thread_id"], str(demo_api_with_secret["suite_id"]),
                          str(demo_api_with_secret["eval_run_id"])):
                path = path.replace(f"/{value}/", f"/{bad}/")
            method = "post" if path.endswith(("/cancel/", "/approve/", "/reject/")) else "get"

            error = assert_envelope(getattr(demo_api_with_secret["client"], method)(path, format="json"), 404)

            assert error["code"] == "not_found", path
            checked += 1
    assert checked >= 20


# -- request bodies, from the schema -----------------------------------------------------------


def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def body_operations(demo_api) -> list[tuple[str, str, dict]]:
    """(method, path, request schema) of every operation that reads a JSON body."""
    document = schema()
    found = []
    for route, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
                path = route.replace("{run_id}", demo_api["run_id"]).replace("{id}", str(demo_api["id"]))
                name = SECRET_NAME if route.startswith("/api/v1/secrets/") else demo_api["name"]
                path = path.replace("{slug}", demo_api["slug"]).replace("{username}", demo_api["username"])
                path = path.replace("{suite_id}", str(demo_api["suite_id"]))
                found.append((method, path.replace("{name}", name), document["components"]["schemas"][ref]))
    return found


def free_text(properties: dict) -> list[str]:
    """The string properties that are free text: neither a choice nor a formatted value."""
    return [name for name, prop in properties.items()
            if prop.get("type") == "string" and "enum" not in prop and "format" not in prop
            and not prop.get("readOnly")]


def test_the_schema_walk_finds_every_body_and_its_text_fields(demo_api):
    operations = body_operations(demo_api)
    texts = {name for _, _, component in operations for name in free_text(component["properties"])}

    assert len(operations) >= 6  # runs, tools (create, update), approve, reject, secrets
    assert {"message", "thread", "seen_hash", "comment", "description", "value"} <= texts


def test_every_text_field_a_client_writes_has_a_max_length_in_the_schema(demo_api):
    unbounded = [(path, name) for _, path, component in body_operations(demo_api)
                 for name in free_text(component["properties"]) if "maxLength" not in component["properties"][name]]

    assert unbounded == []


def test_every_text_field_of_every_body_refuses_a_number_a_boolean_and_an_object(demo_api_with_secret):
    client = demo_api_with_secret["client"]
    for method, path, component in body_operations(demo_api_with_secret):
        for name in free_text(component["properties"]):
            for value in (42, True, {"a": "b"}):
                response = getattr(client, method)(path, json.dumps({name: value}), content_type="application/json")

                error = assert_envelope(response, 400)
                assert error["code"] == "invalid" and name in error["details"], (path, name, value)


def test_every_text_field_one_character_over_its_max_length_is_a_400(demo_api_with_secret):
    client = demo_api_with_secret["client"]
    for method, path, component in body_operations(demo_api_with_secret):
        for name in free_text(component["properties"]):
            too_long = "x" * (component["properties"][name]["maxLength"] + 1)
            response = getattr(client, method)(path, json.dumps({name: too_long}), content_type="application/json")

            assert name in assert_envelope(response, 400)["details"], (path, name)


def test_every_body_in_another_content_type_is_a_415(demo_api_with_secret):
    client = demo_api_with_secret["client"]
    for method, path, _ in body_operations(demo_api_with_secret):
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
            response = getattr(client, method)(path, "agent=support", content_type=content_type)

            assert assert_envelope(response, 415)["code"] == "unsupported_media_type", (path, content_type)


def test_every_body_over_the_size_limit_is_a_413(demo_api_with_secret, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = demo_api_with_secret["client"]
    for method, path, _ in body_operations(demo_api_with_secret):
        body = json.dumps({"padding": "x" * 1000})

        response = getattr(client, method)(path, body, content_type="application/json")

        assert assert_envelope(response, 413)["code"] == "payload_too_large", path


def test_every_strict_serializer_declares_its_text_fields_strict():
    schema()  # imports every endpoint's serializers
    loose = [f"{serializer.__name__}.{name}" for serializer in all_subclasses(StrictInputMixin)
             for name, field in serializer().fields.items()
             if field.__class__.__name__.endswith(("CharField", "SlugField")) and not field.read_only
             and not isinstance(field, StrictText)]

    assert loose == []


def all_subclasses(cls) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *all_subclasses(direct))
            if not sub.__name__.startswith("_")]


# -- query parameters --------------------------------------------------------------------------


CURSOR_LISTS = {"/api/v1/runs/", "/api/v1/approvals/", "/api/v1/memory/", "/api/v1/threads/",  # by cursor: no offset
                "/api/v1/evals/suites/", "/api/v1/evals/runs/"}


def list_paths() -> list[str]:
    return [route for route, operations in schema()["paths"].items()
            if "get" in operations and operations["get"]["operationId"].endswith("_list")]


def test_an_unknown_query_parameter_on_a_list_is_a_400_naming_it(demo_api):
    paths = list_paths()

    assert {"/api/v1/agents/", "/api/v1/tools/", "/api/v1/secrets/", "/api/v1/runs/", "/api/v1/approvals/"} <= set(paths)
    for path in paths:
        error = assert_envelope(demo_api["client"].get(path, {"stauts": "failed", "limit": 2}), 400)

        assert error["code"] == "unknown_parameter" and list(error["details"]) == ["stauts"], path


def test_the_pagination_parameters_are_accepted_on_every_list(demo_api):
    for path in list_paths():
        paging = {"limit": 1} if path in CURSOR_LISTS else {"limit": 1, "offset": 0}
        response = demo_api["client"].get(path, paging)

        assert response.status_code == 200 and len(response.json()["results"]) <= 1, path
