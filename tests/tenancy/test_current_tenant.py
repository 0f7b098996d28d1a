"""A browser session acts in one of the user's tenants: the first by name, or the one they switched to."""

import pytest

from agentops.tenancy.models import Membership
from agentops.tenancy.roles import Role
from tests.factories import AgentFactory, TenantFactory, UserFactory


@pytest.fixture
def two_tenant_user(tenant, other_tenant):
    """A user who joined Globex first and Acme second: an operator in Acme, a viewer in Globex."""
    user = UserFactory(username="dana")
    Membership.objects.create(user=user, tenant=other_tenant, role=Role.VIEWER)
    Membership.objects.create(user=user, tenant=tenant, role=Role.OPERATOR)
    return user


def current_tenant(client):
    return client.get("/").context["principal"].tenant


def test_a_user_in_two_tenants_acts_in_the_first_by_name(client, two_tenant_user, tenant):
    client.force_login(two_tenant_user)

    assert current_tenant(client) == tenant


def test_a_user_can_switch_to_another_of_their_tenants(client, two_tenant_user, other_tenant):
    client.force_login(two_tenant_user)

    response = client.post("/tenant/switch/", {"tenant": other_tenant.pk})

    assert response.status_code == 302
    assert current_tenant(client) == other_tenant
    assert client.get("/").context["principal"].membership.role == Role.VIEWER


def test_switching_to_a_tenant_the_user_is_not_in_keeps_the_current_one(client, two_tenant_user, other_tenant):
    foreign = TenantFactory(slug="initech", name="Initech")
    client.force_login(two_tenant_user)
    client.post("/tenant/switch/", {"tenant": other_tenant.pk})

    client.post("/tenant/switch/", {"tenant": foreign.pk})

    assert current_tenant(client) == other_tenant


def test_the_session_api_follows_the_switched_tenant(client, two_tenant_user, tenant, other_tenant):
    AgentFactory(tenant=tenant, slug="support")
    AgentFactory(tenant=other_tenant, slug="billing")
    client.force_login(two_tenant_user)

    before = [a["slug"] for a in client.get("/api/v1/agents/").json()["results"]]
    client.post("/tenant/switch/", {"tenant": other_tenant.pk})
    after = [a["slug"] for a in client.get("/api/v1/agents/").json()["results"]]

    assert (before, after) == (["support"], ["billing"])


def test_switching_returns_to_the_page_it_came_from(client, two_tenant_user, other_tenant):
    client.force_login(two_tenant_user)

    response = client.post("/tenant/switch/", {"tenant": other_tenant.pk, "next": "/runs/?status=failed"})

    assert response["Location"] == "/runs/?status=failed"


def test_switching_never_redirects_to_another_site(client, two_tenant_user, other_tenant):
    client.force_login(two_tenant_user)

    response = client.post("/tenant/switch/", {"tenant": other_tenant.pk, "next": "https://evil.example/"})

    assert response.status_code == 302 and response["Location"] == "/"


def test_switching_needs_a_signed_in_user(client, other_tenant):
    response = client.post("/tenant/switch/", {"tenant": other_tenant.pk})

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert "tenant_id" not in client.session


def test_a_user_without_a_tenant_has_no_principal(client, db):
    client.force_login(UserFactory(username="loner"))

    response = client.get("/")

    assert response.status_code == 200 and not response.context["principal"]
    assert b"not a member of any tenant" in response.content
