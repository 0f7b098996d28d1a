"""The site around the API: health check, API schema and docs, login, demo data and the admin."""

import re
from io import StringIO

import pytest
import yaml
from django.apps import apps
from django.contrib.staticfiles import finders
from django.core.management import call_command

from agentops.agents.models import Agent, AgentVersion
from agentops.audit.models import AuditEvent
from agentops.tenancy.models import ApiKey, Membership, Tenant
from tests.factories import UserFactory

# seed_demo and the demo's admin pages reach the demo database.
pytestmark = pytest.mark.django_db(databases=["default", "demo"])


@pytest.fixture
def demo(db, settings):
    """The demo tenant as `manage.py seed_demo` creates it on a development machine."""
    settings.DEBUG = True  # the demo users get their known password only when DEBUG is on
    call_command("seed_demo", stdout=StringIO())
    settings.DEBUG = False
    return Tenant.objects.get(slug="demo")


@pytest.fixture
def staff_client(client, demo):
    """The demo's operator: staff of the demo tenant, not a superuser."""
    return signed_in(client, "operator")


@pytest.fixture
def platform_admin_client(client, demo):
    return signed_in(client, "admin")


def signed_in(client, username):
    # Through the login form: login throttling needs the request that a bare client.login() lacks.
    assert client.post("/accounts/login/", {"username": username, "password": "demo"}).status_code == 302
    return client


def test_healthz_answers_ok_as_json(client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_needs_no_login_and_refuses_writes(client, db):
    assert client.post("/healthz").status_code == 405


def test_the_api_schema_is_openapi_3_and_documents_the_agents_endpoints(client, db):
    response = client.get("/api/schema/")

    schema = yaml.safe_load(response.content)
    assert response.status_code == 200
    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/agents/", "/api/v1/agents/{slug}/"} <= set(schema["paths"])
    assert "get" in schema["paths"]["/api/v1/agents/"]


def test_the_api_schema_documents_bearer_key_authentication(client, db):
    schema = yaml.safe_load(client.get("/api/schema/").content)

    schemes = schema["components"]["securitySchemes"]
    bearer = [name for name, scheme in schemes.items() if (scheme["type"], scheme.get("scheme")) == ("http", "bearer")]
    assert len(bearer) == 1, schemes
    assert {bearer[0]: []} in schema["paths"]["/api/v1/agents/"]["get"]["security"]


def test_the_api_docs_load_their_assets_from_this_site(client, db):
    response = client.get("/api/docs/")

    html = response.content.decode()
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert response.status_code == 200
    assert not re.search(r"https?://", " ".join(assets)), assets
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    sidecar = [a for a in assets if "drf_spectacular_sidecar" in a]
    assert any(a.endswith("swagger-ui-bundle.js") for a in sidecar), assets
    for asset in sidecar:
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not a static file of this site"


def test_the_login_page_renders_its_form(client, db):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    assert b'name="username"' in response.content and b'name="password"' in response.content


def test_a_seeded_user_can_log_in_and_lands_in_the_demo_tenant(client, demo):
    response = client.post("/accounts/login/", {"username": "approver", "password": "demo"})

    assert response.status_code == 302 and response["Location"] == "/"
    home = client.get("/")
    assert home.context["principal"].tenant == demo
    assert home.context["principal"].membership.role == "approver"


def test_a_wrong_password_does_not_log_in(client, demo):
    response = client.post("/accounts/login/", {"username": "approver", "password": "nope"})

    assert response.status_code == 200 and b"didn't match" in response.content
    assert "_auth_user_id" not in client.session


def test_without_debug_the_seeded_users_get_no_usable_password(db):
    call_command("seed_demo", stdout=StringIO())

    assert not any(user.has_usable_password() for user in
                   apps.get_model("auth", "User").objects.filter(username__in=["operator", "owner", "approver", "sam", "ada"]))


def test_seeding_the_demo_twice_changes_nothing_and_keeps_the_audit_chain_intact(demo):
    def counts():
        return {model._meta.label: model._default_manager.count() for model in apps.get_models()}

    before = counts()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    after = counts()
    verified = StringIO()
    call_command("audit", "verify", stdout=verified)

    assert after == before
    assert "(0 changes)" in out.getvalue()
    assert before["agents.Agent"] == 2 and before["tenancy.Membership"] == 5  # support and shop; ada and the owner too
    assert "tenant demo:" in verified.getvalue() and "chain intact" in verified.getvalue()


def test_the_admin_index_loads_for_a_staff_user(staff_client):
    response = staff_client.get("/admin/")

    assert response.status_code == 200
    assert b"/admin/agents/agent/" in response.content


@pytest.mark.parametrize("model", [Tenant, Membership, Agent, AgentVersion, AuditEvent], ids=lambda m: m._meta.label)
def test_the_admin_list_and_change_pages_load_for_the_demo_operator(staff_client, demo, model):
    obj = model._default_manager.first()
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"

    listed = staff_client.get(base)
    changed = staff_client.get(f"{base}{obj.pk}/change/")

    assert listed.status_code == 200 and changed.status_code == 200
    assert listed.context["cl"].result_count == model._default_manager.count() > 0


def test_the_demo_operator_is_staff_of_the_demo_tenant_and_no_superuser(demo):
    operator = apps.get_model("auth", "User").objects.get(username="operator")

    assert operator.is_staff and not operator.is_superuser
    assert Membership.objects.get(user=operator).tenant == demo


def test_the_demo_operator_may_not_manage_api_keys_in_the_admin(staff_client):
    call_command("create_api_key", "--tenant", "demo", "--name", "ci", stdout=StringIO())

    assert staff_client.get("/admin/tenancy/apikey/").status_code == 403


@pytest.mark.parametrize("model", [Tenant, Membership, ApiKey, Agent], ids=lambda m: m._meta.label)
def test_the_admin_add_pages_load_for_the_platform_admin(platform_admin_client, model):
    response = platform_admin_client.get(f"/admin/{model._meta.app_label}/{model._meta.model_name}/add/")

    assert response.status_code == 200


def test_seeding_an_older_demo_database_takes_the_operators_superuser_status_away(demo):
    User = apps.get_model("auth", "User")
    User.objects.filter(username="operator").update(is_superuser=True)

    call_command("seed_demo", stdout=StringIO())

    assert not User.objects.get(username="operator").is_superuser


def test_the_admin_refuses_a_user_who_is_not_staff(client, demo):
    client.force_login(UserFactory(username="mallory"))

    response = client.get("/admin/tenancy/apikey/")

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_static_files_are_served_by_the_application_itself(client):
    # daphne, which `make run` and deployments use, serves no static files: the app must.
    response = client.get("/static/css/app.css")

    assert response.status_code == 200
    assert b".topbar" in b"".join(response.streaming_content)


def test_the_openapi_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--file", str(tmp_path / "schema.yaml"), "--fail-on-warn", "--validate")

    assert "/api/v1/runs/{run_id}/steps/" in (tmp_path / "schema.yaml").read_text()


def test_admin_lists_runs_with_a_link_to_their_trace(client, tenant, operator):
    from django.contrib.auth import get_user_model

    from runs.models import Run
    from tests.factories import AgentFactory

    agent = AgentFactory(tenant=tenant, slug="lister")
    run = Run.objects.create(tenant=tenant, agent=agent, agent_version=agent.current_version, workflow="agent_loop")
    admin_user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin_user)

    page = client.get("/admin/runs/run/")

    assert page.status_code == 200 and f"/runs/{run.pk}/" in page.content.decode()
    assert client.get(f"/admin/runs/run/{run.pk}/change/").status_code == 200


def test_favicon_ico_is_an_icon(client):
    response = client.get("/favicon.ico")

    body = b"".join(response.streaming_content)
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    assert body[:4] == b"\x00\x00\x01\x00" and b"PNG" in body[:64]  # an ICO holding a PNG


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/", "/admin/agents/agent/"])
def test_pages_and_the_admin_name_the_icon(admin_client, path):
    response = admin_client.get(path)
    icon = admin_client.get("/static/favicon.svg")

    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in response.content.decode()
    assert icon.status_code == 200 and b"<svg" in b"".join(icon.streaming_content)
