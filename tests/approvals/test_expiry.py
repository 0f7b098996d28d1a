from datetime import timedelta

import pytest

from agentops.audit.models import AuditEvent
from approvals.models import ApprovalStatus
from approvals.services import ApprovalError, approval_cancel_for_run, approval_decide, approval_expire_due
from runs.models import RunStatus


def later(request, seconds=1):
    return request.expires_at + timedelta(seconds=seconds)


def test_expiry_reject_expires_the_request_and_resumes_the_run(refund_request):
    request = refund_request(expires_in_seconds=600, expiry_action="reject")

    assert approval_expire_due(now=later(request)) == 1

    request.refresh_from_db()
    assert request.status == ApprovalStatus.EXPIRED
    assert request.decided_by is None and "expired" in request.comment
    assert request.run.status == RunStatus.QUEUED
    assert AuditEvent.objects.filter(action="approval.expired").count() == 1


def test_a_request_not_yet_due_is_left_alone(refund_request):
    request = refund_request(expires_in_seconds=600, expiry_action="reject")

    assert approval_expire_due(now=request.expires_at - timedelta(seconds=1)) == 0

    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING


def test_expiry_wait_leaves_the_request_pending(refund_request):
    request = refund_request(expires_in_seconds=600, expiry_action="wait")

    assert approval_expire_due(now=later(request, 86400)) == 0

    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING and request.run.status == RunStatus.WAITING


def test_expiry_escalate_hands_the_request_to_the_escalation_group_once(
    refund_request, group_with, approver, second_approver, principal_for, tenant
):
    support = group_with("support-leads", approver)
    managers = group_with("managers", second_approver)
    request = refund_request(expires_in_seconds=600, expiry_action="escalate",
                             approver_group_id=support.pk, escalation_group_id=managers.pk)
    first_expiry = request.expires_at

    assert approval_expire_due(now=later(request)) == 1

    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING and request.run.status == RunStatus.WAITING
    assert request.approver_group == managers and request.escalated_at is not None
    extension = request.expires_at - (first_expiry + timedelta(seconds=1))  # from the sweep, by the first window
    assert timedelta(seconds=599) < extension <= timedelta(seconds=600)
    assert AuditEvent.objects.get(action="approval.escalated").data["from_group"] == support.pk
    approval_decide(request_id=request.pk, user=second_approver, verdict="approve", seen_hash=request.current_hash,
                    principal=principal_for(second_approver, tenant))
    request.refresh_from_db()
    assert request.status == ApprovalStatus.APPROVED


def test_an_escalated_request_expires_at_its_second_expiry(refund_request, group_with, second_approver):
    managers = group_with("managers", second_approver)
    request = refund_request(expires_in_seconds=600, expiry_action="escalate", escalation_group_id=managers.pk)
    approval_expire_due(now=later(request))
    request.refresh_from_db()

    assert approval_expire_due(now=later(request)) == 1

    request.refresh_from_db()
    assert request.status == ApprovalStatus.EXPIRED and request.run.status == RunStatus.QUEUED


def test_cancel_for_run_cancels_its_pending_requests_only(refund_request, waiting_run, principal_for, approver, tenant):
    run = waiting_run()
    decided = refund_request(run=run, step_seq=2)
    approval_decide(request_id=decided.pk, user=approver, verdict="approve", seen_hash=decided.current_hash,
                    principal=principal_for(approver, tenant))
    pending = refund_request(run=run, step_seq=6)
    elsewhere = refund_request()

    assert approval_cancel_for_run(run=run) == 1

    pending.refresh_from_db(), decided.refresh_from_db(), elsewhere.refresh_from_db()
    assert pending.status == ApprovalStatus.CANCELLED
    assert decided.status == ApprovalStatus.APPROVED and elsewhere.status == ApprovalStatus.PENDING
    assert AuditEvent.objects.filter(action="approval.cancelled").count() == 1
    assert approval_cancel_for_run(run=run) == 0


def test_cancel_for_run_does_not_resume_the_run(refund_request, waiting_run):
    run = waiting_run()
    refund_request(run=run)

    approval_cancel_for_run(run=run)

    run.refresh_from_db()
    assert run.status == RunStatus.WAITING


def test_a_cancelled_request_can_no_longer_be_decided(refund_request, principal_for, approver, tenant):
    request = refund_request()
    approval_cancel_for_run(run=request.run)

    with pytest.raises(ApprovalError) as refusal:
        approval_decide(request_id=request.pk, user=approver, verdict="approve", seen_hash=request.current_hash,
                        principal=principal_for(approver, tenant))

    assert refusal.value.code == "not_pending"
