"""Writes to the tool registry: each one transaction, each audited in the same transaction, each
clearing the configuration cache when it commits (`agentops.config_cache.invalidate`), so that no
run of this process reads the tool or the permission as it was.

A tenant tool's events go to its tenant's audit chain. A global tool is used by every tenant, so
its events are appended to every tenant's chain: each tenant's auditors see the change that
affects them. Global changes are rare (code deploys, platform admins), so the fan-out is cheap.
"""

from __future__ import annotations

import logging

from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import assign_perm, get_group_perms, get_user_perms, remove_perm

from agentops import config_cache
from agentops.audit.services import Actor, audit_diff, audit_record, audit_record_concerned
from agentops.tenancy.models import Tenant

from .errors import ToolConflict, ToolInvalid
from .models import EDITABLE_FIELDS, POLICY_FIELDS, Tool, ToolKind
from .registry import REGISTRY, PythonTool
from .validation import tool_errors

logger = logging.getLogger(__name__)

SYNC_ACTOR = Actor.system("tool_sync")


def tool_create(*, tenant: Tenant | None, name: str, kind: str, actor: Actor, **fields) -> Tool:
    """Register a tool for `tenant` (None: a global tool). It may shadow a global tool of its name.

    Python tools are declared in code and created by `tool_sync`, not here. Raises ToolInvalid
    or ToolConflict. One transaction; audited as `tool.created`.
    """
    if kind == ToolKind.PYTHON:
        raise ToolInvalid({"kind": ["Python tools are declared in code with @tool and registered at start-up."]})
    _refuse_unknown(fields, EDITABLE_FIELDS)
    tool = Tool(tenant=tenant, name=name, kind=kind, **fields)
    _check(tool)
    try:
        with transaction.atomic():
            if Tool.objects.filter(tenant=tenant, name=name).exists():
                raise ToolConflict(f"A tool named {name} already exists {_scope(tenant)}.")
            tool.save()
            _audit(tool, "tool.created", actor, data={"name": name, **tool.snapshot()})
            config_cache.invalidate()
    except IntegrityError:  # a concurrent create of the same name won
        raise ToolConflict(f"A tool named {name} already exists {_scope(tenant)}.") from None
    return tool


def tool_update(*, tool: Tool, changes: dict, actor: Actor, tenant: Tenant | None = None) -> Tool:
    """Apply `changes` ({field: value}) to `tool`; returns the saved tool.

    A code tool's definition belongs to its code: only policy fields change. With `tenant` and a
    global `tool`, the change goes to the tenant's own copy of the tool (made on the first change,
    policy fields only), never to the global row that other tenants use. Locks the row; one
    transaction; audited as `tool.changed` with the before/after diff, and nothing is written
    when nothing differs. Raises ToolInvalid.
    """
    overriding = tenant is not None and tool.is_global
    if changes.get("kind") == ToolKind.PYTHON and not tool.is_code:
        raise ToolInvalid({"kind": ["Python tools are declared in code with @tool and registered at start-up."]})
    _refuse_unknown(changes, POLICY_FIELDS if tool.is_code or overriding else EDITABLE_FIELDS,
                    reason=_policy_only_reason(tool, overriding))
    if overriding:
        return _tenant_copy_update(tenant=tenant, tool=tool, changes=changes, actor=actor)
    with transaction.atomic():
        locked = Tool.objects.select_for_update().get(pk=tool.pk)
        before = locked.snapshot()
        for field, value in changes.items():
            setattr(locked, field, value)
        _check(locked)
        diff = audit_diff(before, locked.snapshot())
        if diff:
            locked.save()
            _audit(locked, "tool.changed", actor, changes=diff)
            config_cache.invalidate()
        return locked


def _tenant_copy_update(*, tenant: Tenant, tool: Tool, changes: dict, actor: Actor) -> Tool:
    with transaction.atomic():
        existing = Tool.objects.select_for_update().filter(tenant=tenant, name=tool.name).first()
        if existing is not None:
            return tool_update(tool=existing, changes=changes, actor=actor)
        copy = Tool(tenant=tenant, name=tool.name, **{field: getattr(tool, field) for field in EDITABLE_FIELDS})
        for field, value in changes.items():
            setattr(copy, field, value)
        _check(copy)
        copy.save()
        _audit(copy, "tool.created", actor, data={"name": copy.name, "copy_of": "global", **copy.snapshot()},
               changes=audit_diff(tool.snapshot(), copy.snapshot()))
        config_cache.invalidate()
        return copy


def tool_sync(*, actor: Actor = SYNC_ACTOR) -> list[str]:
    """Make the registry rows of the registered Python tools match their code; returns what it did.

    Creates a missing global row with the decorator's policies. On existing rows (the global one
    and tenants' copies) only the fields the code owns are updated: policies stay as set in the
    admin or the API. Idempotent: nothing is written when nothing differs. One transaction.
    """
    report: list[str] = []
    with transaction.atomic():
        for name in sorted(REGISTRY):
            report += _sync_one(REGISTRY[name], actor)
    return report


def _sync_one(entry: PythonTool, actor: Actor) -> list[str]:
    rows = list(Tool.objects.select_for_update().filter(name=entry.name))
    clash = next((row for row in rows if row.tenant_id is None and not row.is_code), None)
    if clash is not None:
        logger.warning("python tool %s not synced: a global %s tool has its name", entry.name, clash.kind)
        return [f"skipped tool {entry.name}: a global {clash.kind} tool has this name"]
    report = []
    if not any(row.tenant_id is None for row in rows):
        tool = Tool(tenant=None, name=entry.name, **entry.definition(), **entry.policy_defaults)
        _check(tool)
        tool.save()
        _audit(tool, "tool.created", actor, data={"name": tool.name, **tool.snapshot()})
        config_cache.invalidate()
        report.append(f"registered tool {entry.name}")
    for row in rows:
        if not row.is_code:
            continue  # a tenant's own non-Python tool that shadows this name: not ours to change
        before = row.snapshot()
        for field, value in entry.definition().items():
            setattr(row, field, value)
        diff = audit_diff(before, row.snapshot())
        if diff:
            row.save()
            _audit(row, "tool.changed", actor, changes=diff)
            config_cache.invalidate()
            report.append(f"updated tool {row}")
    return report


def tool_use_grant(*, tool: Tool, user, tenant: Tenant, actor: Actor) -> bool:
    """Give `user` the object permission `tools.use_tool` on `tool`; False if they had it.

    `tenant` is where the grant is recorded (a global tool's grant counts in the user's tenants).
    One transaction; audited as `tool.use_granted`.
    """
    with transaction.atomic():
        if "use_tool" in get_user_perms(user, tool):
            return False
        assign_perm("tools.use_tool", user, tool)
        audit_record(tenant=tenant, action="tool.use_granted", actor=actor, target=tool,
                     data={"tool": tool.name, "user": user.get_username()})
        config_cache.invalidate()
        return True


def tool_permissions_set(*, tool: Tool, grantee, permissions: set[str], actor: Actor) -> None:
    """Make `permissions` (codenames such as "use_tool") the object permissions of `grantee`, a user
    or a group, on `tool`. One transaction; audited as `tool.permissions_changed` with the before
    and after when they differ, in the chain of the tool's tenant (every tenant's for a global tool)."""
    is_group = isinstance(grantee, Group)
    with transaction.atomic():
        # The grantee's own grants: a user's through their groups are the groups' to change.
        before = set(get_group_perms(grantee, tool) if is_group else get_user_perms(grantee, tool))
        for codename in before - permissions:
            remove_perm(codename, grantee, tool)
        for codename in permissions - before:
            assign_perm(codename, grantee, tool)
        if before != permissions:
            _audit(tool, "tool.permissions_changed", actor, data={"group" if is_group else "user": str(grantee)},
                   changes={"permissions": [sorted(before), sorted(permissions)]})
            config_cache.invalidate()  # who may use a tool is configuration runs read through the cache


def _check(tool: Tool) -> None:
    """The fields' validators and `tool_errors`; raises ToolInvalid with every problem found.

    Uniqueness is checked in the transaction (and by the database), not by full_clean."""
    errors: dict[str, list[str]] = {}
    try:
        tool.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        errors = exc.message_dict
    for field, messages in tool_errors(tool).items():
        errors.setdefault(field, []).extend(messages)
    if errors:
        raise ToolInvalid(errors)


def _refuse_unknown(fields: dict, allowed, *, reason: str = "cannot be changed.") -> None:
    refused = sorted(set(fields) - set(allowed))
    if refused:
        raise ToolInvalid({field: [reason] for field in refused})


def _policy_only_reason(tool: Tool, overriding: bool) -> str:
    policies = ", ".join(POLICY_FIELDS)
    if tool.is_code:
        return f"{tool.name} is defined in code: only its policies can change ({policies})."
    if overriding:
        return f"{tool.name} is a global tool: a tenant can change only its policies ({policies})."
    return "cannot be changed."


def _scope(tenant: Tenant | None) -> str:
    return "globally" if tenant is None else f"in {tenant.slug}"


def _audit(tool: Tool, action: str, actor: Actor, **payload) -> None:
    audit_record_concerned(tenant_ids=[tool.tenant_id] if tool.tenant_id else [], action=action, actor=actor,
                           target=tool, **payload)


def tool_delete(*, tool: Tool, actor: Actor) -> None:
    """Remove a tool that is not defined in code (code tools are disabled instead: the next sync
    would bring them back; one whose code is gone can be removed). Runs pinned to versions
    granting it get `unknown_tool` refusals. One transaction; audited as `tool.deleted` with the
    last definition."""
    if tool.is_code and tool.is_global and tool.name in REGISTRY:
        raise ToolInvalid({"kind": [f"{tool.name} is defined in code: disable it instead of deleting it."]})
    with transaction.atomic():
        _audit(tool, "tool.deleted", actor, data={"name": tool.name, **tool.snapshot()})
        # Object permissions point at the row by id without a foreign key: left behind, they would
        # grant the use of whichever tool is later given the same id.
        content_type = ContentType.objects.get_for_model(Tool)
        for permissions in (UserObjectPermission, GroupObjectPermission):
            permissions.objects.filter(content_type=content_type, object_pk=str(tool.pk)).delete()
        tool.delete()
        config_cache.invalidate()
