"""Reads of threads, scoped to the principal's tenant: members see the threads they started,
those who may resolve runs or manage agents see every thread of the tenant."""

from __future__ import annotations

from django.db.models import QuerySet

from agentops.keyset import KeysetQuery

from .models import Thread


def tenant_threads(principal) -> QuerySet[Thread]:
    if not principal.can("view", "read"):
        return Thread.objects.none()
    threads = Thread.objects.filter(tenant_id=principal.tenant.pk)
    if principal.can("resolve_runs") or principal.can("manage_agents"):
        return threads
    return threads.filter(created_by=principal.user)


def thread_list(*, principal) -> KeysetQuery:
    """The threads the principal sees, newest first: page it with `.page(cursor=, size=)`."""
    return KeysetQuery((tenant_threads(principal).select_related("created_by"),))


def thread_get_for_user(*, principal, external_id: str) -> Thread | None:
    return tenant_threads(principal).select_related("created_by").filter(external_id=external_id).first()
