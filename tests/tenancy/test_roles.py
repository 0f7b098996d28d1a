"""Roles grant exactly the permissions of the table in agentops/tenancy/roles.py."""

import re

import pytest

from agentops.tenancy import roles
from agentops.tenancy.models import Membership
from agentops.tenancy.roles import ALL_PERMISSIONS, Role, role_grants


def granted(role: str) -> set[str]:
    return {permission for permission in ALL_PERMISSIONS if role_grants(role, permission)}


def test_the_documented_table_lists_exactly_the_known_permissions():
    documented = set(re.findall(r"^\| (\w+) +\|", roles.__doc__, flags=re.MULTILINE)) - {"permission"}

    assert documented == ALL_PERMISSIONS


def test_an_owner_holds_every_permission():
    assert granted(Role.OWNER) == ALL_PERMISSIONS


def test_a_viewer_may_only_view():
    assert granted(Role.VIEWER) == {"view"}


def test_an_approver_decides_approvals_but_does_not_run_agents():
    assert role_grants(Role.APPROVER, "decide_approvals")
    assert not role_grants(Role.APPROVER, "run_agents")
    assert granted(Role.APPROVER) == {"view", "decide_approvals"}


def test_an_operator_runs_agents_and_resolves_runs_but_neither_decides_approvals_nor_manages():
    assert granted(Role.OPERATOR) == {"view", "run_agents", "use_tools", "resolve_runs", "view_audit"}


def test_a_developer_manages_agents_and_tools_but_not_members_or_keys():
    assert {"manage_agents", "manage_tools", "run_agents"} <= granted(Role.DEVELOPER)
    assert not granted(Role.DEVELOPER) & {"manage_members", "manage_api_keys", "decide_approvals"}


def test_only_an_owner_manages_members_and_api_keys():
    managers = {role for role in Role.values if role_grants(role, "manage_members")}
    key_managers = {role for role in Role.values if role_grants(role, "manage_api_keys")}

    assert managers == key_managers == {Role.OWNER}


def test_an_unknown_permission_name_raises():
    with pytest.raises(ValueError, match="unknown permission 'run_agent'"):
        role_grants(Role.OWNER, "run_agent")


def test_an_unknown_role_grants_nothing():
    assert granted("superhero") == set()


def test_a_membership_grants_what_its_role_grants():
    membership = Membership(role=Role.APPROVER)

    assert membership.grants("decide_approvals") and not membership.grants("run_agents")


def test_an_api_key_needs_the_scope_that_goes_with_a_permission(tenant, operator):
    from agentops.tenancy.models import ApiKey, Membership
    from agentops.tenancy.principal import Principal

    key = ApiKey(tenant=tenant, user=operator, scopes=["read"])
    principal = Principal(tenant=tenant, user=operator, membership=Membership.objects.get(user=operator), api_key=key)

    assert principal.can("view")
    assert not principal.can("run_agents")  # the role allows it, the key's scopes do not
    assert not principal.can("manage_api_keys")  # never through a key


def test_an_unknown_role_is_refused(tenant, operator):
    from agentops.audit.services import Actor
    from agentops.tenancy.services import TenancyError, membership_set

    with pytest.raises(TenancyError):
        membership_set(tenant=tenant, user=operator, role="emperor", actor=Actor.system())
