"""`manage.py create_api_key`: prints the key alone on its last line; refuses what it cannot do."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

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


# -- --key-file: the key `make run` keeps in .demo-api-key ---------------------------------------


def test_a_key_file_without_a_key_gets_a_new_key_readable_by_its_owner_only(operator, tenant, tmp_path, bearer):
    key_file = tmp_path / ".demo-api-key"

    printed = create_api_key("--tenant", "acme", "--name", "demo", "--key-file", str(key_file)).splitlines()[-1]

    assert key_file.read_text() == printed + "\n" and key_file.stat().st_mode & 0o777 == 0o600
    assert bearer(printed).get("/api/v1/agents/").status_code == 200


def test_a_valid_key_in_the_file_is_kept_and_no_key_is_created(operator, tenant, tmp_path, bearer):
    key_file = tmp_path / ".demo-api-key"
    first = create_api_key("--tenant", "acme", "--name", "demo", "--key-file", str(key_file)).splitlines()[-1]

    again = create_api_key("--tenant", "acme", "--name", "demo", "--key-file", str(key_file)).splitlines()[-1]

    assert again == first and key_file.read_text() == first + "\n"
    assert ApiKey.objects.count() == 1 and bearer(first).get("/api/v1/agents/").status_code == 200


@pytest.mark.parametrize("stale", ["revoked", "unknown", "other tenant"])
def test_a_key_file_whose_key_this_database_would_refuse_gets_a_new_key(operator, tenant, other_tenant, member,
                                                                        tmp_path, stale):
    key_file = tmp_path / ".demo-api-key"
    member("olga", Role.OWNER, in_tenant=other_tenant)
    slug = other_tenant.slug if stale == "other tenant" else "acme"
    old = create_api_key("--tenant", slug, "--name", "demo", "--key-file", str(key_file)).splitlines()[-1]
    if stale == "revoked":
        ApiKey.objects.update(revoked_at=timezone.now())
    elif stale == "unknown":
        ApiKey.objects.all().delete()

    new = create_api_key("--tenant", "acme", "--name", "demo", "--key-file", str(key_file)).splitlines()[-1]

    assert new != old and key_file.read_text() == new + "\n"
    assert ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=True).count() == 1
