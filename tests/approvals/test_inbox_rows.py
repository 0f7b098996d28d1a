"""What an inbox row says (the key arguments), the requests a user started, truthful empty states,
and a page that costs the same number of queries however long the queue."""

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agentops.audit.services import Actor
from agentops.tenancy.roles import Role
from approvals.selectors import approval_decide_refusal
from tools.errors import ToolInvalid
from tools.models import Tool
from tools.services import tool_create

SUMMARY_SCHEMA = {
    "type": "object",
    "properties": {
        "reason": {"type": "string"},
        "order_id": {"type": "string", "x-summary": True},
        "amount": {"type": "number", "x-summary": True},
        "customer": {"type": "string", "x-summary": True},
        "notes": {"type": "string"},
    },
}


def key_arguments(page: str, pk: int) -> str:
    row = page[page.index(f'id="approval-{pk}"'):]
    row = row[:row.index("</tr>")]
    return row[row.index('class="key-args"'):]


def test_a_row_shows_the_arguments_the_schema_marks_as_summary(refund_request, refund_tool, client, approver):
    Tool.objects.filter(pk=refund_tool.pk).update(input_schema=SUMMARY_SCHEMA)
    request = refund_request()  # order_id 1042, amount 120, reason damaged
    client.force_login(approver)

    cell = key_arguments(client.get("/inbox/").content.decode(), request.pk)

    assert "order_id" in cell and "<code>1042</code>" in cell and "<code>120</code>" in cell
    assert "reason" not in cell and "damaged" not in cell


def test_without_summary_marks_a_row_shows_the_first_scalar_arguments(refund_request, client, approver):
    request = refund_request()
    client.force_login(approver)

    cell = key_arguments(client.get("/inbox/").content.decode(), request.pk)

    assert [name in cell for name in ("order_id", "amount", "reason")] == [True, True, True]


def test_long_and_hostile_values_are_cut_and_escaped(refund_request, client, approver):
    request = refund_request()
    hostile = "<script>alert(1)</script>" + "x" * 100
    type(request).objects.filter(pk=request.pk).update(proposed_arguments={"order_id": hostile, "amount": 1})
    client.force_login(approver)

    cell = key_arguments(client.get("/inbox/").content.decode(), request.pk)

    assert "<script>" not in cell and "&lt;script&gt;alert(1)&lt;/script&gt;xxxxxxxxxxxxxx…" in cell


@pytest.mark.parametrize("spec, message", [
    ({"type": "string", "x-summary": "yes"}, "must be true or false"),
    ({"type": "object", "x-summary": True}, "only a string, number, integer or boolean"),
])
def test_a_tool_with_a_misused_summary_mark_is_not_saved(tenant, spec, message):
    with pytest.raises(ToolInvalid) as refused:
        tool_create(tenant=tenant, name="crm.note", kind="http", actor=Actor.system("test"),
                    input_schema={"type": "object", "properties": {"note": spec}},
                    config={"method": "POST", "url": "https://crm.example.com/notes"})

    assert message in str(refused.value.details or refused.value)
    assert not Tool.objects.filter(name="crm.note").exists()


def test_requests_you_started_are_listed_with_who_can_decide_them(refund_request, waiting_run, client, operator,
                                                                  approver, group_with):
    finance = group_with("finance", approver)
    started = refund_request(run=waiting_run(created_by=operator), approver_group_id=finance.pk)
    for_me = refund_request(run=waiting_run(created_by=approver, on_behalf_of=operator))
    refund_request(run=waiting_run(created_by=approver))  # someone else's
    client.force_login(operator)

    page = client.get("/inbox/").content.decode()

    assert f'id="started-{started.pk}"' in page and f'id="started-{for_me.pk}"' in page
    assert page.count('id="started-') == 2
    assert "members of finance, not you" in page and "any approver, not you" in page
    assert "Your role does not decide approvals; the requests you started are listed below." in page


def test_an_approver_with_only_their_own_requests_is_told_so(refund_request, waiting_run, client, approver):
    refund_request(run=waiting_run(created_by=approver))
    client.force_login(approver)

    page = client.get("/inbox/").content.decode()

    assert "Nothing is waiting for your decision; 1 request you started is waiting for others" in page
    assert "Nothing is waiting for you." not in page


def test_nothing_anywhere_says_so(db, client, approver):
    client.force_login(approver)

    page = client.get("/inbox/").content.decode()

    assert "Nothing is waiting for your decision." in page
    assert "No request you started is waiting for a decision." in page


def test_the_started_page_lists_them_all(refund_request, waiting_run, client, operator, monkeypatch):
    monkeypatch.setattr("approvals.views.STARTED_PREVIEW", 2)
    ids = [refund_request(run=waiting_run(created_by=operator)).pk for _ in range(3)]
    client.force_login(operator)

    inbox = client.get("/inbox/").content.decode()
    everything = client.get("/inbox/started/").content.decode()

    assert "the oldest 2 of 3" in inbox and 'href="/inbox/started/"' in inbox
    assert [f'id="started-{pk}"' in everything for pk in ids] == [True] * 3


def test_a_browser_user_is_told_about_their_role_and_a_key_about_its_scope(refund_request, member, principal_for,
                                                                           tenant):
    from agentops.tenancy.models import ApiKey
    from agentops.tenancy.services import api_key_create

    request = refund_request()
    viewer, approver = member("vera", Role.VIEWER), member("abe", Role.APPROVER)
    key, _ = api_key_create(tenant=tenant, user=approver, name="k", scopes=["read"], actor=Actor.system("test"))

    browser = approval_decide_refusal(principal=principal_for(viewer, tenant), request=request)
    with_key = approval_decide_refusal(principal=principal_for(approver, tenant, ApiKey.objects.get(pk=key.pk)),
                                       request=request)

    assert browser == ("not_allowed", "Your role (viewer) does not allow deciding approvals.")
    assert "scope" not in browser[1] and "API key" not in browser[1]
    assert with_key[1] == "This API key lacks the scope 'approvals:write', which deciding approvals needs."


def test_the_inbox_page_costs_the_same_queries_however_long_the_queue(refund_request, waiting_run, client, approver,
                                                                      operator, member, refund_tool, tenant,
                                                                      monkeypatch):
    monkeypatch.setattr("approvals.views.STARTED_PREVIEW", 2)  # past the preview, the rest are counted
    requesters = (member(f"requester{n}") for n in itertools.count())
    Tool.objects.create(tenant=tenant, name="crm.note", kind="http", input_schema=SUMMARY_SCHEMA)
    client.force_login(approver)

    def add(n):
        for index in range(n):
            refund_request(run=waiting_run(created_by=next(requesters)), required_approvals=2)
            refund_request(run=waiting_run(created_by=approver))  # started by the reader
            request = refund_request(run=waiting_run(created_by=operator))
            type(request).objects.filter(pk=request.pk).update(tool_name="crm.note")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/inbox/").status_code == 200
        return len(captured)

    add(3)
    few = queries()
    add(10)

    assert queries() == few
