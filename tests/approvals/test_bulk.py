"""One verdict on several identical requests: each decided on its own, with its own audit event and
seen-hash check; what could not be decided is reported, and nothing is decided for a mixed batch."""

import pytest
from rest_framework.test import APIClient

from agentops.audit.models import AuditEvent
from approvals.models import ApprovalRequest, ApprovalStatus
from approvals.services import ApprovalError, approval_decide, approval_decide_bulk
from runs.models import RunStatus
from tests.approvals.conftest import PROPOSED

HTMX = {"HTTP_HX_REQUEST": "true"}


def seen(*requests):
    return [(r.pk, r.current_hash) for r in requests]


def statuses(*requests):
    return [ApprovalRequest.objects.get(pk=r.pk).status for r in requests]


def test_bulk_approval_decides_each_request_with_its_own_audit_event_and_resumes_each_run(
    refund_request, approver, principal_for, tenant
):
    requests = [refund_request() for _ in range(3)]

    results = approval_decide_bulk(decisions=seen(*requests), user=approver, verdict="approve",
                                   comment="Known batch.", principal=principal_for(approver, tenant))

    assert [(r.request_id, r.status, r.error) for r in results] == [(r.pk, "approved", None) for r in requests]
    assert statuses(*requests) == ["approved"] * 3
    events = AuditEvent.objects.filter(action="approval.approved").values_list("target_id", flat=True)
    assert sorted(events) == sorted(str(r.pk) for r in requests)
    assert {r.run.status for r in ApprovalRequest.objects.select_related("run")} == {RunStatus.QUEUED}


def test_a_stale_request_is_reported_and_the_others_decided(refund_request, approver, second_approver,
                                                            principal_for, tenant):
    first, edited, third = refund_request(required_approvals=2), refund_request(required_approvals=2), \
        refund_request(required_approvals=2)
    shown = seen(first, edited, third)
    # Another approver edits one of them after the page was loaded: what was shown is stale.
    approval_decide(request_id=edited.pk, user=second_approver, verdict="approve", seen_hash=edited.current_hash,
                    arguments={**PROPOSED, "amount": 60}, principal=principal_for(second_approver, tenant))

    results = approval_decide_bulk(decisions=shown, user=approver, verdict="reject", comment="Not these.",
                                   principal=principal_for(approver, tenant))

    assert [r.error.code if r.error else r.status for r in results] == ["rejected", "stale", "rejected"]
    assert statuses(first, edited, third) == ["rejected", "pending", "rejected"]


def test_requests_that_are_not_identical_are_refused_and_none_decided(refund_request, approver, principal_for,
                                                                      tenant):
    low, high = refund_request(), refund_request(risk="high")

    with pytest.raises(ApprovalError) as refused:
        approval_decide_bulk(decisions=seen(low, high), user=approver, verdict="approve",
                             principal=principal_for(approver, tenant))

    assert refused.value.code == "not_identical"
    assert statuses(low, high) == ["pending", "pending"]


def test_different_arguments_seen_are_not_identical(refund_request, approver, principal_for, tenant):
    one, two = refund_request(), refund_request()

    with pytest.raises(ApprovalError) as refused:
        approval_decide_bulk(decisions=[(one.pk, one.current_hash), (two.pk, "0" * 64)], user=approver,
                             verdict="approve", principal=principal_for(approver, tenant))

    assert refused.value.code == "not_identical" and statuses(one, two) == ["pending", "pending"]


def test_a_bulk_rejection_needs_a_comment(refund_request, approver, principal_for, tenant):
    request = refund_request()

    with pytest.raises(ApprovalError) as refused:
        approval_decide_bulk(decisions=seen(request), user=approver, verdict="reject", comment="  ",
                             principal=principal_for(approver, tenant))

    assert refused.value.code == "comment_required" and statuses(request) == ["pending"]


def test_the_api_reports_each_request(refund_request, waiting_run, api_key_for, approver, tenant):
    mine, decided = refund_request(), refund_request()
    own = refund_request(run=waiting_run(on_behalf_of=approver))
    ApprovalRequest.objects.filter(pk=decided.pk).update(status=ApprovalStatus.CANCELLED)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(approver, tenant)}")

    response = client.post("/api/v1/approvals/bulk/", {"verdict": "approve", "requests": [
        {"id": r.pk, "seen_hash": r.current_hash} for r in (mine, decided, own)]}, format="json")

    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert results[0] == {"id": mine.pk, "status": "approved", "error": None}
    assert [r["error"]["code"] for r in results[1:]] == ["not_pending", "self_approval"]


def test_the_api_refuses_a_mixed_batch_with_400(refund_request, api_key_for, approver, tenant):
    low, high = refund_request(), refund_request(risk="high")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(approver, tenant)}")

    response = client.post("/api/v1/approvals/bulk/", {"verdict": "approve", "requests": [
        {"id": r.pk, "seen_hash": r.current_hash} for r in (low, high)]}, format="json")

    assert response.status_code == 400 and response.json()["error"]["code"] == "not_identical"
    assert statuses(low, high) == ["pending", "pending"]


def test_the_api_needs_the_decide_scope(refund_request, api_key_for, approver, tenant):
    request = refund_request()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(approver, tenant, ('read',))}")

    response = client.post("/api/v1/approvals/bulk/", {"verdict": "approve", "requests": [
        {"id": request.pk, "seen_hash": request.current_hash}]}, format="json")

    assert response.status_code == 403 and response.json()["error"]["code"] == "not_allowed"
    assert statuses(request) == ["pending"]


def test_the_inbox_bulk_form_reports_what_was_not_decided(refund_request, client, approver):
    fresh, gone = refund_request(), refund_request()
    ApprovalRequest.objects.filter(pk=gone.pk).update(status=ApprovalStatus.EXPIRED)
    client.force_login(approver)

    response = client.post("/inbox/bulk/", {"verdict": "approve", "comment": "",
                                            "selected": [f"{r.pk}:{r.current_hash}" for r in (fresh, gone)]}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "Approved 1 request." in html and f"#{gone.pk} was not decided" in html and "expired" in html
    assert response["HX-Trigger"] == "inbox-changed, bulk-decided"
    assert statuses(fresh, gone) == ["approved", "expired"]


def test_the_inbox_bulk_form_without_a_selection_says_so(db, client, approver):
    client.force_login(approver)

    html = client.post("/inbox/bulk/", {"verdict": "approve"}, **HTMX).content.decode()

    assert "Select the requests to decide." in html


def test_without_htmx_the_bulk_form_redirects_to_the_inbox_with_the_outcome(refund_request, client, approver):
    request = refund_request()
    client.force_login(approver)

    response = client.post("/inbox/bulk/", {"verdict": "reject", "comment": "Duplicate.",
                                            "selected": [f"{request.pk}:{request.current_hash}"]}, follow=True)

    assert response.redirect_chain == [("/inbox/", 302)]
    assert "Rejected 1 request." in response.content.decode() and statuses(request) == ["rejected"]


def test_under_a_quorum_the_bulk_form_says_the_votes_wait_for_more_approvers(refund_request, client, approver):
    requests = [refund_request(required_approvals=2) for _ in range(2)]
    client.force_login(approver)

    html = client.post("/inbox/bulk/", {"verdict": "approve", "comment": "",
                                        "selected": [f"{r.pk}:{r.current_hash}" for r in requests]},
                       **HTMX).content.decode()

    assert "Your approval is recorded on 2; they need more approvers." in html and "Approved" not in html
    assert statuses(*requests) == ["pending", "pending"]


def test_a_user_of_no_tenant_is_told_so_and_nothing_is_decided(refund_request, client):
    from tests.factories import UserFactory

    request = refund_request()
    client.force_login(UserFactory(username="nomad"))

    html = client.post("/inbox/bulk/", {"verdict": "approve",
                                        "selected": [f"{request.pk}:{request.current_hash}"]}, **HTMX).content.decode()

    assert "not a member of any tenant" in html and statuses(request) == ["pending"]
