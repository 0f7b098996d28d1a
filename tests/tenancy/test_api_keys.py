"""API keys: stored as a hash, authenticate as their user in their tenant only, and can be revoked."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from agentops.audit.services import Actor
from agentops.tenancy.models import ApiKey, Membership
from agentops.tenancy.roles import Role
from agentops.tenancy.services import TenancyError, api_key_create, api_key_revoke, membership_remove

AGENTS = "/api/v1/agents/"
SYSTEM = Actor.system("test")


def test_only_the_sha256_of_a_new_key_is_stored_and_its_prefix_in_clear(operator, tenant):
    key, raw = api_key_create(tenant=tenant, user=operator, name="ci", scopes=["read"], actor=SYSTEM)

    row = ApiKey.objects.filter(pk=key.pk).values().get()

    assert row["key_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    assert row["prefix"] == raw[:ApiKey.PREFIX_LENGTH] and raw.startswith("ak_")
    assert not any(raw in str(value) for value in row.values())


def test_two_keys_never_share_a_raw_key(operator, tenant):
    _, first = api_key_create(tenant=tenant, user=operator, name="one", scopes=["read"], actor=SYSTEM)
    _, second = api_key_create(tenant=tenant, user=operator, name="two", scopes=["read"], actor=SYSTEM)

    assert first != second and len(first) > 40


def test_a_bearer_key_authenticates_and_records_its_last_use(operator, tenant, agent, bearer):
    key, raw = api_key_create(tenant=tenant, user=operator, name="ci", scopes=["read"], actor=SYSTEM)

    response = bearer(raw).get(AGENTS)

    assert response.status_code == 200
    assert [a["slug"] for a in response.json()["results"]] == ["support"]
    key.refresh_from_db()
    assert key.last_used_at is not None and timezone.now() - key.last_used_at < timedelta(seconds=30)


def test_a_key_used_again_within_a_minute_does_not_write_its_last_use_again(operator, tenant, bearer):
    key, raw = api_key_create(tenant=tenant, user=operator, name="ci", scopes=["read"], actor=SYSTEM)
    recent = timezone.now() - timedelta(seconds=10)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=recent)

    assert bearer(raw).get(AGENTS).status_code == 200

    key.refresh_from_db()
    assert key.last_used_at == recent


def test_a_revoked_key_is_refused_with_the_error_envelope(operator, tenant, bearer):
    key, raw = api_key_create(tenant=tenant, user=operator, name="ci", scopes=["read"], actor=SYSTEM)
    api_key_revoke(api_key=key, actor=SYSTEM)

    response = bearer(raw).get(AGENTS)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "authentication_failed"
    assert "revoked" in response.json()["error"]["message"]


def test_revoking_a_key_twice_is_refused(operator, tenant):
    key, _ = api_key_create(tenant=tenant, user=operator, name="ci", scopes=["read"], actor=SYSTEM)
    api_key_revoke(api_key=key, actor=SYSTEM)
    revoked_at = ApiKey.objects.get(pk=key.pk).revoked_at

    with pytest.raises(TenancyError, match="already revoked"):
        api_key_revoke(api_key=key, actor=SYSTEM)

    assert ApiKey.objects.get(pk=key.pk).revoked_at == revoked_at


def test_an_unknown_key_is_refused(db, bearer):
    response = bearer("ak_" + "x" * 43).get(AGENTS)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.parametrize("header", ["Bearer", "Bearer two parts", "Bearer  "])
def test_a_malformed_bearer_header_is_refused(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get(AGENTS)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_a_request_without_credentials_asks_for_a_bearer_key(db):
    response = APIClient().get(AGENTS)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_key_stops_working_when_its_user_leaves_the_tenant(operator, tenant, bearer):
    _, raw = api_key_create(tenant=tenant, user=operator, name="ci", scopes=["read"], actor=SYSTEM)
    membership_remove(membership=Membership.objects.get(user=operator, tenant=tenant), actor=SYSTEM)

    response = bearer(raw).get(AGENTS)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_a_key_of_a_deactivated_user_is_refused(operator, tenant, bearer):
    _, raw = api_key_create(tenant=tenant, user=operator, name="ci", scopes=["read"], actor=SYSTEM)
    operator.is_active = False
    operator.save(update_fields=["is_active"])

    assert bearer(raw).get(AGENTS).status_code == 401


def test_a_key_cannot_be_created_for_a_user_outside_the_tenant(member, tenant, other_tenant):
    outsider = member("olga", Role.OWNER, in_tenant=other_tenant)

    with pytest.raises(TenancyError, match="not a member"):
        api_key_create(tenant=tenant, user=outsider, name="ci", scopes=["read"], actor=SYSTEM)

    assert not ApiKey.objects.exists()


def test_a_key_with_an_unknown_scope_is_not_created(operator, tenant):
    with pytest.raises(TenancyError, match="unknown scopes: admin"):
        api_key_create(tenant=tenant, user=operator, name="ci", scopes=["read", "admin"], actor=SYSTEM)

    assert not ApiKey.objects.exists()
