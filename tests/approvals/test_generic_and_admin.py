"""A workflow's generic `ctx.approval` (no tool, no schema), and the admin pages."""

from approvals.models import ApprovalStatus
from approvals.services import approval_decide, approval_request_create


def test_a_generic_approval_takes_edited_arguments_as_given(waiting_run, approver, principal_for, tenant):
    request = approval_request_create(run=waiting_run(), step_seq=1, title="Publish the release notes?",
                                      proposed_arguments={"channel": "#general"}, context={"reason": "v2 is out"})

    approval_decide(request_id=request.pk, user=approver, verdict="approve", seen_hash=request.current_hash,
                    arguments={"channel": "#announcements", "pin": True}, principal=principal_for(approver, tenant))

    request.refresh_from_db()
    assert request.status == ApprovalStatus.APPROVED
    assert request.approved_arguments == {"channel": "#announcements", "pin": True}


def test_a_generic_approval_page_offers_a_yes_or_no(waiting_run, approver, client):
    request = approval_request_create(run=waiting_run(), step_seq=1, title="Go ahead?", proposed_arguments={},
                                      context={})
    client.force_login(approver)

    page = client.get(f"/inbox/{request.pk}/").content.decode()

    assert "yes-or-no decision" in page and "Approve with edits" not in page


def test_the_admin_lists_and_shows_approval_requests(admin_client, refund_request):
    request = refund_request()

    assert admin_client.get("/admin/approvals/approvalrequest/").status_code == 200
    assert admin_client.get(f"/admin/approvals/approvalrequest/{request.pk}/change/").status_code == 200
