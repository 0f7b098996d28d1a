"""The audit page's queries under each filter, asked of the database's planner: an index serves
the order, newest first, on the first page and past a cursor (see tests/runs/test_list_queries.py
for how the plans are read on SQLite and PostgreSQL)."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from agentops.audit.selectors import AuditFilters, audit_event_list
from agentops.keyset import Cursor
from agentops.tenancy.principal import Principal
from agentops.tenancy.models import Membership
from tests.runs.test_list_queries import plans, sorts

pytestmark = pytest.mark.django_db

SOON = timezone.now()
FILTERS = {
    "none": (AuditFilters(), ["audit_list"]),
    "dates": (AuditFilters(since=SOON - dt.timedelta(days=7), until=SOON), ["audit_list"]),
    "action": (AuditFilters(action="run.created"), ["audit_list_action"]),
    "actor": (AuditFilters(actor="olivia"), ["audit_list_actor"]),
    "target": (AuditFilters(target=f"runs.run:{uuid.uuid4()}"), ["audit_list_target"]),
    "run": (AuditFilters(run=uuid.uuid4()), ["audit_list_target", "audit_list_actor"]),
    "action and dates": (AuditFilters(action="run.created", since=SOON - dt.timedelta(days=1)), ["audit_list_action"]),
}
CURSORS = {"first page": None, "next page": Cursor((SOON, 10**6)), "previous page": Cursor((SOON, 10**6), before=True)}


@pytest.fixture
def principal(tenant, operator, record):
    record(tenant, 30, action="run.created")
    return Principal(tenant=tenant, user=operator, membership=Membership.objects.get(user=operator, tenant=tenant))


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize("page", CURSORS)
def test_an_index_serves_the_order_of_each_filtered_page(principal, name, page):
    filters, indexes = FILTERS[name]
    query = audit_event_list(principal=principal, filters=filters)

    for plan, index in zip(plans(query, CURSORS[page]), indexes, strict=True):
        assert not sorts(plan), plan
        if connection.vendor == "sqlite":
            assert f"SEARCH audit_auditevent USING INDEX {index} (" in plan, plan
