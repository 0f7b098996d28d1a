"""`manage.py create_api_key`: prints the key alone on its last line; refuses what it cannot do."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from agentops.tenancy.models import ApiKey
from agentops.tenancy.roles import Role


def create_api_key(*args) -> str:
    out = StringIO()
    call_command("create_api_key", *args, stdout=out)
    return out.getvalue()


def test_the_printed_key_is_alone_on_the_last_line_and_authenticates(operator, tenant, agent, bearer):
    output = create_api_key("--tenant", "acme", "--name", "ci", "--scopes", "read")

    raw = output.strip().splitlines()[-1]
    response = bearer(raw).get("/api/v1/agents/")

    assert raw.startswith("ak_") and " " not in raw
    assert response.status_code == 200
    assert [a["slug"] for a in response.json()["results"]] == ["support"]


def test_the_key_acts_as_the_tenants_owner_before_its_operator(member, tenant):
    member("olivia", Role.OPERATOR)
    member("owen", Role.OWNER)

    create_api_key("--tenant", "acme", "--name", "ci")

    key = ApiKey.objects.get()
    assert key.user.username == "owen"
    assert key.scopes == ["approvals:write", "read", "runs:write"]


def test_the_key_acts_as_the_named_user(operator, approver, tenant):
    create_api_key("--tenant", "acme", "--name", "ci", "--user", "arthur", "--scopes", "read", "approvals:write")

    key = ApiKey.objects.get()
    assert key.user == approver and key.scopes == ["approvals:write", "read"]


def test_an_unknown_scope_is_refused_with_a_readable_error(operator, tenant):
    with pytest.raises(CommandError, match=r"invalid choice: 'admin'.*choose from"):
        create_api_key("--tenant", "acme", "--name", "ci", "--scopes", "read", "admin")

    assert not ApiKey.objects.exists()


def test_an_unknown_tenant_is_refused(operator, tenant):
    with pytest.raises(CommandError, match="No tenant with slug 'nope'"):
        create_api_key("--tenant", "nope", "--name", "ci")

    assert not ApiKey.objects.exists()


def test_a_user_outside_the_tenant_is_refused(operator, tenant, member, other_tenant):
    member("olga", Role.OWNER, in_tenant=other_tenant)

    with pytest.raises(CommandError, match="olga is not a member of acme"):
        create_api_key("--tenant", "acme", "--name", "ci", "--user", "olga")

    assert not ApiKey.objects.exists()


def test_a_tenant_without_owner_or_operator_needs_a_named_user(approver, tenant):
    with pytest.raises(CommandError, match="no owner or operator"):
        create_api_key("--tenant", "acme", "--name", "ci")

    assert not ApiKey.objects.exists()
