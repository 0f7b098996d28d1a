"""/api/v1/members/: owners read members' roles and attributes and replace the attributes tool
rules read; nobody else, and never another tenant's members."""

import pytest

from agentops.audit.models import AuditEvent
from agentops.tenancy.models import Membership
from agentops.tenancy.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_api(client_for):
    return client_for(Role.OWNER, scopes=("read", "members:write"))


def test_an_owner_sets_a_members_attributes(owner_api, operator, tenant):
    response = owner_api.patch("/api/v1/members/olivia/", {"attributes": {"customer_id": "C-1001"}}, format="json")

    assert response.status_code == 200
    assert response.json()["attributes"] == {"customer_id": "C-1001"}
    assert Membership.objects.get(user=operator, tenant=tenant).attributes == {"customer_id": "C-1001"}
    assert AuditEvent.objects.get(action="membership.attributes_changed").changes == {"customer_id": [None, "C-1001"]}


def test_the_list_shows_roles_and_attributes(owner_api, operator):
    listed = {m["username"]: m for m in owner_api.get("/api/v1/members/").json()["results"]}

    assert listed["olivia"]["role"] == "operator" and listed["olivia"]["attributes"] == {}


@pytest.mark.parametrize("attributes", [["C-1001"], {"customer id": "C-1001"}, {"x": "y" * 5000}])
def test_attributes_rules_cannot_read_are_refused(owner_api, operator, attributes):
    response = owner_api.patch("/api/v1/members/olivia/", {"attributes": attributes}, format="json")

    assert response.status_code == 400 and "attributes" in response.json()["error"]["details"]


def test_a_key_without_members_write_cannot_change_them(client_for, operator):
    reader = client_for(Role.OWNER, scopes=("read",))

    response = reader.patch("/api/v1/members/olivia/", {"attributes": {"customer_id": "C-1"}}, format="json")

    assert response.status_code == 403


def test_an_operator_cannot_read_members_attributes(api):
    assert api.get("/api/v1/members/").status_code == 403


def test_another_tenants_member_is_not_found(owner_api, member, other_tenant):
    member("gus", Role.OPERATOR, in_tenant=other_tenant)

    assert owner_api.get("/api/v1/members/gus/").status_code == 404
    assert owner_api.patch("/api/v1/members/gus/", {"attributes": {}}, format="json").status_code == 404
