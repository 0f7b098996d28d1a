"""Every list of approvals, on the inbox pages and in the API, reads its page in index order: the
database never sorts the queue (SQLite: no "USE TEMP B-TREE FOR ORDER BY"; PostgreSQL: no Sort
node). Runs on both databases (DATABASE_URL selects PostgreSQL).

PostgreSQL prefers a sort over an index for the few rows of a test, so the plans are read with
`enable_sort` off: a Sort then remains only where no index can give the order.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.factories import AgentFactory

LIST_ORDER = 'ORDER BY "approvals_approvalrequest"."created_at"'


@pytest.fixture
def queue(refund_request, waiting_run, tenant, operator):
    billing = AgentFactory(tenant=tenant, slug="billing", name="Billing")
    for _ in range(3):
        refund_request()
        refund_request(run=waiting_run(agent=billing))
        refund_request(run=waiting_run(created_by=operator))


def plan(sql: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def sorts(text: str) -> bool:
    return "TEMP B-TREE FOR ORDER BY" in text or "Sort" in text


def list_plans(get, url) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = get(url)
    assert response.status_code == 200, response.content[:500]
    listed = [q["sql"] for q in queries if LIST_ORDER in q["sql"]]
    assert listed, f"no list query for {url}"
    return [plan(sql) for sql in listed]


@pytest.mark.parametrize("url", [
    "/inbox/", "/inbox/?agent=billing", "/inbox/?tool=payments.refund", "/inbox/?agent=billing&tool=payments.refund",
    "/inbox/started/",
])
def test_the_inbox_pages_read_in_index_order(queue, client, approver, operator, url):
    client.force_login(operator if "started" in url else approver)

    for text in list_plans(client.get, url):
        assert not sorts(text), text


@pytest.mark.parametrize("url, indexes", [
    # In a table this small PostgreSQL may well scan the tenant's index and filter on status.
    ("/inbox/", ("approval_status_order", "approval_order")),
    ("/inbox/?agent=billing", ("approval_agent_order",)),
    ("/inbox/?tool=payments.refund", ("approval_tool_order",)),
])
def test_each_inbox_filter_has_its_index(queue, client, approver, url, indexes):
    client.force_login(approver)

    text = list_plans(client.get, url)[0]

    assert any(index in text for index in indexes), text


def test_the_next_and_previous_pages_of_the_inbox_read_in_index_order(queue, client, approver, monkeypatch):
    monkeypatch.setattr("approvals.views.INBOX_PAGE_SIZE", 2)
    client.force_login(approver)
    first = client.get("/inbox/").content.decode()
    newer = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    older = client.get(newer).content.decode().split('rel="prev" href="')[1].split('"')[0].replace("&amp;", "&")

    for text in list_plans(client.get, newer) + list_plans(client.get, older):
        assert not sorts(text), text


@pytest.mark.parametrize("query", [
    "", "?status=pending", "?status=pending&agent=billing", "?status=pending&tool=payments.refund",
    "?agent=billing", "?tool=payments.refund", "?status=approved&agent=billing&tool=payments.refund",
])
def test_the_api_list_reads_in_index_order(queue, api_key_for, approver, tenant, query):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(approver, tenant)}")

    for text in list_plans(client.get, f"/api/v1/approvals/{query}"):
        assert not sorts(text), text
