"""Changes to members, roles and API keys leave the audit events that describe them, with before and after."""

import pytest

from agentops.audit.models import AuditEvent
from agentops.audit.sequencer import audit_seal
from agentops.audit.services import Actor
from agentops.tenancy.models import ApiKey, Membership
from agentops.tenancy.roles import Role
from agentops.tenancy.services import (
    TenancyError,
    api_key_create,
    api_key_revoke,
    membership_remove,
    membership_set,
    tenant_create,
)
from tests.factories import UserFactory


@pytest.fixture
def owner(member):
    return member("owen", Role.OWNER)


def events(tenant, action=None):
    found = AuditEvent.objects.filter(tenant=tenant).order_by("seq")
    return list(found.filter(action=action) if action else found)


def test_creating_a_tenant_starts_its_chain(owner):
    tenant = tenant_create(name="Initech", slug="initech", actor=Actor.for_user(owner))
    audit_seal(tenant_ids=[tenant.pk])

    [event] = events(tenant)
    assert (event.seq, event.action, event.data) == (1, "tenant.created", {"name": "Initech"})
    assert event.actor_label == "owen"


def test_adding_a_member_records_user_and_role(tenant, owner):
    user = UserFactory(username="vera")

    membership = membership_set(tenant=tenant, user=user, role=Role.VIEWER, actor=Actor.for_user(owner))

    [event] = events(tenant, "membership.created")
    assert event.data == {"user": "vera", "role": "viewer"}
    assert (event.target_type, event.target_id) == ("tenancy.membership", str(membership.pk))
    assert (event.actor_type, event.actor_id) == ("user", str(owner.pk))


def test_changing_a_role_records_before_and_after(tenant, owner):
    user = UserFactory(username="vera")
    membership_set(tenant=tenant, user=user, role=Role.VIEWER, actor=Actor.for_user(owner))

    membership_set(tenant=tenant, user=user, role=Role.APPROVER, actor=Actor.for_user(owner))

    [event] = events(tenant, "membership.role_changed")
    assert event.changes == {"role": ["viewer", "approver"]}
    assert Membership.objects.get(tenant=tenant, user=user).role == Role.APPROVER


def test_setting_the_same_role_again_records_nothing(tenant, owner):
    user = UserFactory(username="vera")
    membership_set(tenant=tenant, user=user, role=Role.VIEWER, actor=Actor.for_user(owner))
    before = AuditEvent.objects.count()

    membership_set(tenant=tenant, user=user, role=Role.VIEWER, actor=Actor.for_user(owner))

    assert AuditEvent.objects.count() == before


def test_removing_a_member_records_who_and_which_role(tenant, owner, approver):
    membership_remove(membership=Membership.objects.get(user=approver), actor=Actor.for_user(owner))

    [event] = events(tenant, "membership.removed")
    assert event.data == {"user": "arthur", "role": "approver"}
    assert not Membership.objects.filter(user=approver).exists()


def test_creating_a_key_records_its_prefix_and_scopes_but_never_the_key(tenant, owner):
    key, raw = api_key_create(tenant=tenant, user=owner, name="ci", scopes=["runs:write", "read"],
                              actor=Actor.for_user(owner))

    [event] = events(tenant, "api_key.created")
    assert event.data == {"name": "ci", "prefix": key.prefix, "scopes": ["read", "runs:write"], "user": "owen"}
    assert (event.target_type, event.target_id) == ("tenancy.apikey", str(key.pk))
    assert raw not in str(event.content()) and key.key_hash not in str(event.content())


def test_revoking_a_key_records_it(tenant, owner):
    key, _ = api_key_create(tenant=tenant, user=owner, name="ci", scopes=["read"], actor=Actor.for_user(owner))

    api_key_revoke(api_key=key, actor=Actor.for_user(owner))

    [event] = events(tenant, "api_key.revoked")
    assert event.data == {"prefix": key.prefix} and event.target_id == str(key.pk)


def test_revoking_a_revoked_key_records_nothing_more(tenant, owner):
    key, _ = api_key_create(tenant=tenant, user=owner, name="ci", scopes=["read"], actor=Actor.for_user(owner))
    api_key_revoke(api_key=key, actor=Actor.for_user(owner))

    with pytest.raises(TenancyError):
        api_key_revoke(api_key=key, actor=Actor.for_user(owner))

    assert len(events(tenant, "api_key.revoked")) == 1


def test_a_key_that_could_not_be_created_records_nothing(tenant, owner, other_tenant, member):
    outsider = member("olga", Role.OWNER, in_tenant=other_tenant)

    with pytest.raises(TenancyError):
        api_key_create(tenant=tenant, user=outsider, name="ci", scopes=["read"], actor=Actor.for_user(owner))

    assert events(tenant, "api_key.created") == [] and not ApiKey.objects.exists()


def test_an_action_taken_with_an_api_key_names_the_key_as_actor(tenant, owner):
    key, _ = api_key_create(tenant=tenant, user=owner, name="ci", scopes=["read"], actor=Actor.for_user(owner))

    api_key_revoke(api_key=key, actor=Actor.for_api_key(key))

    [event] = events(tenant, "api_key.revoked")
    assert (event.actor_type, event.actor_id, event.actor_label) == ("api_key", str(key.pk), f"ci ({key.prefix}…)")
