import pytest
from django.utils import timezone

from approvals.models import ApprovalStatus
from approvals.services import approval_decide
from runs.models import RunStatus, Step, StepKind, StepStatus
from tests.approvals.conftest import PROPOSED
from tests.factories import AgentFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def browser_of(client):
    """browser_of(user) → the test client signed in as `user`."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def decide_form(request, verdict="approve", **fields):
    data = {"verdict": verdict, "seen_hash": request.current_hash, "comment": ""}
    data.update({f"arg__{k}": v for k, v in PROPOSED.items()})
    data.update(fields)
    return data


def test_the_inbox_lists_pending_requests_the_user_may_decide_with_the_count_in_the_nav(
    refund_request, browser_of, approver, group_with, second_approver
):
    mine = refund_request()
    refund_request(approver_group_id=group_with("finance", second_approver).pk)

    page = browser_of(approver).get("/inbox/").content.decode()

    assert f'href="/inbox/{mine.pk}/"' in page and page.count('id="approval-') == 1
    assert 'id="inbox-count"' in page and ">1</span>" in page
    assert 'hx-trigger="every 5s, inbox-changed from:body"' in page and 'hx-include="#inbox-filters, #inbox-cursor"' in page


def test_the_inbox_filters_by_agent_and_tool(refund_request, waiting_run, browser_of, approver, tenant):
    refund_request()
    billing = refund_request(run=waiting_run(agent=AgentFactory(tenant=tenant, slug="billing", name="Billing")))
    client = browser_of(approver)

    by_agent = client.get("/inbox/?agent=billing").content.decode()
    by_tool = client.get("/inbox/?tool=crm.delete_customer").content.decode()

    assert by_agent.count('id="approval-') == 1 and f'id="approval-{billing.pk}"' in by_agent
    assert 'id="approval-' not in by_tool and "Nothing is waiting for your decision with these filters" in by_tool


def test_polling_gets_only_the_list_partial_with_new_requests(refund_request, browser_of, approver):
    client = browser_of(approver)
    client.get("/inbox/")
    arrived = refund_request()

    partial = client.get("/inbox/", **HTMX, HTTP_HX_TARGET="inbox-list").content.decode()

    assert "<html" not in partial and 'id="inbox-list"' not in partial  # the content, swapped into the list
    assert f'id="approval-{arrived.pk}"' in partial
    assert 'hx-swap-oob="true"' in partial  # the nav count is refreshed with the list


def test_the_request_page_shows_context_fields_from_the_schema_and_the_trace_link(refund_request, browser_of,
                                                                                  approver):
    request = refund_request(expires_in_seconds=3600, expiry_action="reject")

    page = browser_of(approver).get(f"/inbox/{request.pk}/").content.decode()

    assert "My blender arrived broken" in page and "orders.lookup" in page and "delivered two days ago" in page
    assert 'name="arg__amount"' in page and 'type="number"' in page and 'max="500"' in page
    assert '<select name="arg__reason"' in page
    assert f'name="seen_hash" value="{request.current_hash}"' in page
    assert f'href="/runs/{request.run_id}/' in page
    assert "then reject" in page and "High" not in page


def test_approving_from_the_page_swaps_in_the_outcome_and_resumes_the_run(refund_request, browser_of, approver):
    request = refund_request()

    response = browser_of(approver).post(f"/inbox/{request.pk}/decide/", decide_form(request), **HTMX)

    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and 'id="decision"' in html
    assert "Approved" in html and "arthur" in html
    assert response["HX-Trigger"] == "inbox-changed"
    request.refresh_from_db()
    assert request.status == ApprovalStatus.APPROVED and request.run.status == RunStatus.QUEUED


def test_approve_with_edits_from_the_per_field_inputs(refund_request, browser_of, approver):
    request = refund_request()

    browser_of(approver).post(f"/inbox/{request.pk}/decide/",
                              decide_form(request, verdict="approve_edited", arg__amount="80"), **HTMX)

    request.refresh_from_db()
    assert request.approved_arguments == {**PROPOSED, "amount": 80}


def test_plain_approve_ignores_what_was_typed_into_the_inputs(refund_request, browser_of, approver):
    request = refund_request()

    browser_of(approver).post(f"/inbox/{request.pk}/decide/", decide_form(request, arg__amount="1"), **HTMX)

    request.refresh_from_db()
    assert request.approved_arguments == PROPOSED


def test_an_invalid_edit_shows_the_schema_error_on_its_input(refund_request, browser_of, approver):
    request = refund_request()

    html = browser_of(approver).post(f"/inbox/{request.pk}/decide/",
                                     decide_form(request, verdict="approve_edited", arg__amount="9000"),
                                     **HTMX).content.decode()

    assert 'class="field invalid"' in html and "maximum" in html and 'value="9000"' in html
    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING


def test_rejecting_without_a_comment_asks_for_one(refund_request, browser_of, approver):
    request = refund_request()

    html = browser_of(approver).post(f"/inbox/{request.pk}/decide/", decide_form(request, verdict="reject"),
                                     **HTMX).content.decode()

    assert "Say why you reject" in html
    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING


def test_the_loser_of_a_race_sees_who_decided(refund_request, browser_of, approver, second_approver,
                                             principal_for, tenant):
    request = refund_request()
    client = browser_of(approver)
    client.get(f"/inbox/{request.pk}/")
    approval_decide(request_id=request.pk, user=second_approver, verdict="approve", seen_hash=request.current_hash,
                    principal=principal_for(second_approver, tenant))

    html = client.post(f"/inbox/{request.pk}/decide/", decide_form(request, verdict="reject", comment="no"),
                       **HTMX).content.decode()

    assert "Already approved by bella" in html and 'class="outcome bad"' in html
    request.refresh_from_db()
    assert request.status == ApprovalStatus.APPROVED and request.decided_by == second_approver


def test_the_requester_sees_why_they_cannot_decide(refund_request, waiting_run, browser_of, approver):
    request = refund_request(run=waiting_run(on_behalf_of=approver))

    page = browser_of(approver).get(f"/inbox/{request.pk}/").content.decode()

    assert "another approver must decide it" in page and 'name="verdict"' not in page


def test_a_decided_request_shows_proposed_approved_and_executed_arguments(refund_request, browser_of, approver,
                                                                          principal_for, tenant):
    request = refund_request()
    edited = {**PROPOSED, "amount": 80}
    approval_decide(request_id=request.pk, user=approver, verdict="approve", seen_hash=request.current_hash,
                    arguments=edited, principal=principal_for(approver, tenant))
    Step.objects.create(run=request.run, seq=request.step_seq + 1, kind=StepKind.TOOL, name="payments.refund",
                        status=StepStatus.COMPLETED, input={"arguments": edited, "idempotency_key": "k"},
                        started_at=timezone.now())

    page = browser_of(approver).get(f"/inbox/{request.pk}/").content.decode()

    assert "<th>Proposed</th><th>Approved</th><th>Executed</th>" in page
    amount_row = page[page.index("<code>amount</code>"):]
    amount_row = amount_row[:amount_row.index("</tr>")]
    assert ["120", "80", "80"] == [cell.split("</pre>")[0] for cell in amount_row.split("<pre>")[1:]]
    assert 'class="changed"' in amount_row and "drifted" not in amount_row


def test_another_tenants_request_is_404(refund_request, browser_of, member, other_tenant):
    from agentops.tenancy.roles import Role

    request = refund_request()
    outsider = member("olga", Role.OWNER, in_tenant=other_tenant)

    client = browser_of(outsider)

    assert client.get(f"/inbox/{request.pk}/").status_code == 404
    assert client.post(f"/inbox/{request.pk}/decide/", decide_form(request)).status_code == 404
