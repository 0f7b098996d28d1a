"""The audit page (/audit/): who may read it, its filters, paging, links, chain state, tenant
isolation, and its export link carrying the filters."""

import datetime as dt
import re

import pytest

from agentops.audit.services import Actor, audit_record
from agentops.tenancy.roles import Role
from approvals.models import ApprovalRequest
from tests.support.runs_journal import make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def browse(client, member):
    """browse(role) → a client signed in as a new member of `tenant` with that role."""

    def sign_in(role=Role.OPERATOR):
        client.force_login(member(f"a-{role}", role))
        return client

    return sign_in


def actions(response) -> list[str]:
    return re.findall(r'<td><a href="\?action=[^"]*">([^<]+)</a></td>', response.content.decode())


@pytest.mark.parametrize("role", [Role.OWNER, Role.OPERATOR])
def test_owners_and_operators_read_the_log(browse, record, tenant, role):
    record(tenant, 2, action="agent.changed")
    response = browse(role).get("/audit/")
    assert response.status_code == 200
    assert actions(response) == ["agent.changed", "agent.changed"]


@pytest.mark.parametrize("role", [Role.APPROVER, Role.VIEWER])
def test_other_roles_are_refused(browse, record, tenant, role):
    record(tenant, 1)
    client = browse(role)
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export/").status_code == 403


def test_the_nav_links_the_page_only_for_those_who_may_read_it(browse):
    assert 'href="/audit/"' in browse(Role.OPERATOR).get("/runs/").content.decode()
    assert 'href="/audit/"' not in browse(Role.APPROVER).get("/runs/").content.decode()


def test_a_second_tenant_sees_nothing_of_the_first(browse, record, tenant, other_tenant, member):
    record(tenant, 3, action="secret.rotated")
    record(other_tenant, 1, action="theirs.only")
    client = browse()
    client.force_login(member("gina", Role.OWNER, in_tenant=other_tenant))

    response = client.get("/audit/")
    assert actions(response) == ["theirs.only"]
    export = b"".join(client.get("/audit/export/?format=jsonl").streaming_content).decode()
    assert "secret.rotated" not in export and "theirs.only" in export


def test_filter_by_action_and_actor(browse, record, tenant, operator):
    record(tenant, 2, action="run.created")
    audit_record(tenant=tenant, action="run.created", actor=Actor.for_user(operator))
    audit_record(tenant=tenant, action="agent.changed", actor=Actor.for_user(operator))
    client = browse()

    assert actions(client.get("/audit/?action=run.created")) == ["run.created"] * 3
    assert actions(client.get("/audit/?actor=olivia")) == ["agent.changed", "run.created"]
    assert actions(client.get("/audit/?actor=olivia&action=run.created")) == ["run.created"]


def test_filter_by_target_and_by_run(browse, record, tenant, agent):
    run, other = make_run(agent), make_run(agent)
    audit_record(tenant=tenant, action="run.created", actor=Actor.system(), target=run)
    audit_record(tenant=tenant, action="tool.called", actor=Actor.for_run(run), target=run)
    audit_record(tenant=tenant, action="approval.requested", actor=Actor.for_run(run), target=agent)
    audit_record(tenant=tenant, action="run.created", actor=Actor.system(), target=other)
    client = browse()

    assert actions(client.get(f"/audit/?target=runs.run:{run.pk}")) == ["tool.called", "run.created"]
    assert actions(client.get(f"/audit/?run={run.pk}")) == ["approval.requested", "tool.called", "run.created"]


def test_filter_by_dates(browse, record, tenant):
    record(tenant, 2)
    today = dt.date.today()
    client = browse()
    assert len(actions(client.get(f"/audit/?date_from={today}&date_to={today}"))) == 2
    assert actions(client.get(f"/audit/?date_to={today - dt.timedelta(days=1)}")) == []


def test_a_bad_filter_says_why_and_is_left_out(browse, record, tenant):
    record(tenant, 1)
    response = browse().get("/audit/?target=nonsense&run=not-a-uuid")
    page = response.content.decode()
    assert response.status_code == 200
    assert "A target is type:id" in page and "Enter a valid UUID." in page
    assert len(actions(response)) == 1


def test_pages_by_cursor_newest_first(browse, record, tenant):
    events = record(tenant, 60)
    client = browse()
    first = client.get("/audit/").content.decode()
    older = re.search(r'href="(\?[^"]*cursor=[^"]+)"[^>]*rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(f"/audit/{older}").content.decode()

    shown = lambda page: [int(n) for n in re.findall(r'title="sealed into the chain">#(\d+)<', page)]  # noqa: E731
    assert shown(first) == list(range(60, 10, -1))
    assert shown(second) == list(range(10, 0, -1))
    assert [e.seq for e in events][-1] == 60


def test_a_tampered_cursor_says_so(browse, record, tenant):
    record(tenant, 1)
    page = browse().get("/audit/?cursor=forged").content.decode()
    assert "The cursor is not one this list gave out" in page


def test_pending_and_sealed_events_are_told_apart(browse, record, tenant):
    record(tenant, 1)
    record(tenant, 1, seal=False)
    page = browse().get("/audit/").content.decode()
    assert 'title="sealed into the chain">#1<' in page and ">pending<" in page


def test_events_link_to_their_run_approval_and_tool(browse, tenant, agent):
    run = make_run(agent)
    audit_record(tenant=tenant, action="tool.called", actor=Actor.for_run(run), target=run,
                 data={"tool": "orders.refund"})
    request = ApprovalRequest.objects.create(tenant=tenant, run=run, agent=agent, step_seq=1, title="Refund",
                                             proposed_hash="-")
    audit_record(tenant=tenant, action="approval.approved", actor=Actor.system(), target=request,
                 data={"run": str(run.pk)})
    page = browse().get("/audit/").content.decode()
    assert page.count(f'href="/runs/{run.pk}/">run</a>') == 2
    assert f'href="/inbox/{request.pk}/">approval</a>' in page
    assert 'href="/admin/tools/tool/?q=orders.refund">tool</a>' in page


def test_the_export_link_carries_the_filters(browse, record, tenant):
    record(tenant, 2, action="run.created")
    record(tenant, 1, action="agent.changed")
    client = browse()
    page = client.get("/audit/?action=agent.changed").content.decode()
    link = re.search(r'href="(/audit/export/\?[^"]*format=csv[^"]*)"', page).group(1).replace("&amp;", "&")

    response = client.get(link)
    body = b"".join(response.streaming_content).decode()

    assert response["Content-Type"].startswith("text/csv")
    assert "selection.csv" in response["Content-Disposition"]
    assert body.count("agent.changed") == 1 and "run.created" not in body
