"""Every page checks the login the same way: a signed-out browser is sent to the login form, and an
HTMX request of one (a poll after the session ended) makes the browser go there (`HX-Redirect`)
instead of swapping the login form into the page. API endpoints and /healthz are not pages."""

import uuid
from urllib.parse import urlencode

import pytest
from django.urls import URLResolver, get_resolver

pytestmark = pytest.mark.django_db

RUN = uuid.uuid4()  # no view runs for a signed-out browser, so no row is needed
HTMX_GETS = ["/", "/runs/", "/runs/?status=failed", f"/runs/{RUN}/", f"/runs/{RUN}/steps/?after=0",
             f"/runs/{RUN}/timeline/", f"/runs/{RUN}/steps/3/prompt/", "/inbox/", "/inbox/count/", "/inbox/7/",
             "/dashboard/", "/dashboard/?days=7", "/evals/"]
HTMX_POSTS = ["/inbox/7/decide/", f"/runs/{RUN}/cancel/", f"/runs/{RUN}/retry/", f"/runs/{RUN}/steps/3/resolve/",
              "/tenant/switch/"]
# URL prefixes that are not pages: their own authentication (API keys, admin, the login form itself).
NOT_PAGES = ("admin/", "api/", "healthz", "metrics", "favicon.ico", "accounts/", "demo/billing/")


def login_url(next_page: str) -> str:
    return "/accounts/login/?" + urlencode({"next": next_page}, safe="/")


def htmx(page: str) -> dict:
    """The headers HTMX sends from `page` (the browser's current URL)."""
    return {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": f"http://testserver{page}"}


@pytest.mark.parametrize("url", HTMX_GETS)
def test_an_htmx_request_without_a_session_sends_the_browser_to_the_login_form(client, url):
    response = client.get(url, **htmx("/inbox/?agent=support"))

    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == login_url("/inbox/?agent=support")  # back to the page, not the partial
    assert response.content == b""  # nothing for HTMX to swap in


@pytest.mark.parametrize("url", HTMX_POSTS)
def test_an_htmx_post_without_a_session_sends_the_browser_to_the_login_form(client, url):
    response = client.post(url, {}, **htmx("/inbox/7/"))

    assert response.headers["HX-Redirect"] == login_url("/inbox/7/")


@pytest.mark.parametrize("url", HTMX_GETS)
def test_a_page_without_a_session_redirects_to_the_login_form_as_login_required_does(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response.headers["Location"] == login_url(url)
    assert "HX-Redirect" not in response.headers


def test_without_the_browsers_page_the_login_form_comes_back_to_the_request(client):
    no_page = client.get("/inbox/count/", HTTP_HX_REQUEST="true")
    foreign_page = client.get("/inbox/count/", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="https://evil.example/x")

    assert no_page.headers["HX-Redirect"] == login_url("/inbox/count/")
    assert foreign_page.headers["HX-Redirect"] == login_url("/inbox/count/")


def test_a_signed_in_htmx_request_gets_its_partial(client, operator):
    client.force_login(operator)

    response = client.get("/inbox/count/", **htmx("/inbox/"))

    assert response.status_code == 200 and "HX-Redirect" not in response.headers
    assert b'id="inbox-count"' in response.content


def test_the_api_and_the_health_check_are_not_pages(client):
    api = client.get("/api/v1/agents/", HTTP_HX_REQUEST="true")
    health = client.get("/healthz", HTTP_HX_REQUEST="true")

    assert api.status_code in (401, 403) and api.json()["error"]["code"]
    assert "HX-Redirect" not in api.headers and "HX-Redirect" not in health.headers
    assert health.status_code == 200


def page_routes(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from page_routes(pattern.url_patterns, route)
        elif not route.removeprefix("^").startswith(NOT_PAGES):  # re_path routes begin with ^
            yield route, pattern.callback


def test_every_page_view_checks_the_login_this_way():
    pages = list(page_routes(get_resolver().url_patterns))

    unchecked = [route for route, view in pages if not getattr(view, "page_login_required", False)]

    assert len(pages) >= 15
    assert unchecked == []
