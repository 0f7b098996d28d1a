import pytest

from agentops.audit.models import AuditEvent
from agentops.tenancy.roles import Role
from approvals.models import COMMENT_MAX_LENGTH, ApprovalDecision, ApprovalStatus, arguments_hash
from approvals.services import ApprovalError, approval_decide
from runs.models import RunStatus
from tests.approvals.conftest import PROPOSED


@pytest.fixture
def decide(principal_for, tenant):
    """decide(request, user, verdict="approve", seen_hash=None, **kw) → approval_decide as `user`."""

    def go(request, user, verdict="approve", seen_hash=None, in_tenant=None, api_key=None, **kwargs):
        return approval_decide(
            request_id=request.pk, user=user, verdict=verdict,
            seen_hash=seen_hash if seen_hash is not None else request.current_hash,
            principal=principal_for(user, in_tenant or tenant, api_key=api_key), **kwargs,
        )

    return go


class refused:
    """`with refused("stale") as refusal:` asserts that the block raises ApprovalError with that code."""

    def __init__(self, code):
        self.code = code

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        assert isinstance(error, ApprovalError), f"expected ApprovalError({self.code!r}), got {error!r}"
        assert error.code == self.code, f"expected {self.code!r}, got {error.code!r}: {error.message}"
        self.error = error
        return True


def test_approve_as_proposed_approves_with_the_proposed_arguments_and_resumes_the_run(
    refund_request, decide, approver
):
    request = refund_request()

    decided = decide(request, approver)

    request.refresh_from_db()
    assert request.status == ApprovalStatus.APPROVED == decided.status
    assert request.approved_arguments == PROPOSED
    assert request.decided_by == approver
    assert request.run.status == RunStatus.QUEUED
    event = AuditEvent.objects.get(action="approval.approved")
    assert event.data["proposed_arguments"] == PROPOSED and event.data["approved_arguments"] == PROPOSED


def test_approve_with_edits_sets_approved_arguments_and_keeps_the_diff(refund_request, decide, approver):
    request = refund_request()
    edited = {**PROPOSED, "amount": 80}

    decide(request, approver, arguments=edited, comment="Partial refund: the box was fine.")

    request.refresh_from_db()
    assert request.status == ApprovalStatus.APPROVED
    assert request.proposed_arguments == PROPOSED
    assert request.approved_arguments == edited
    vote = ApprovalDecision.objects.get(request=request)
    assert vote.changes == {"amount": [120, 80]}
    assert vote.arguments == edited and vote.approved_hash == arguments_hash(edited)
    assert AuditEvent.objects.get(action="approval.approved").data["changes"] == {"amount": [120, 80]}


def test_approve_with_unchanged_arguments_counts_as_approve_as_proposed(refund_request, decide, approver):
    request = refund_request()

    decide(request, approver, arguments=dict(PROPOSED))

    vote = ApprovalDecision.objects.get(request=request)
    assert vote.changes == {} and vote.arguments is None


def test_edited_arguments_that_break_the_tool_schema_are_refused(refund_request, decide, approver):
    request = refund_request()

    with refused("invalid_arguments") as refusal:
        decide(request, approver, arguments={**PROPOSED, "amount": 5000})

    assert refusal.error.details[0]["path"] == "amount"
    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING
    assert request.run.status == RunStatus.WAITING
    assert not ApprovalDecision.objects.exists()


def test_reject_needs_a_comment(refund_request, decide, approver):
    request = refund_request()

    with refused("comment_required"):
        decide(request, approver, verdict="reject", comment="   ")

    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING and not ApprovalDecision.objects.exists()


def test_a_comment_longer_than_the_limit_is_refused_and_nothing_is_decided(refund_request, decide, approver):
    request = refund_request()

    with refused("comment_too_long"):
        decide(request, approver, verdict="reject", comment="x" * (COMMENT_MAX_LENGTH + 1))

    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING and not ApprovalDecision.objects.exists()
    decide(request, approver, verdict="reject", comment="x" * COMMENT_MAX_LENGTH)  # the limit itself is fine


def test_reject_records_the_comment_and_resumes_the_run(refund_request, decide, approver):
    request = refund_request()

    decide(request, approver, verdict="reject", comment="Outside the refund window.")

    request.refresh_from_db()
    assert request.status == ApprovalStatus.REJECTED
    assert request.comment == "Outside the refund window." and request.decided_by == approver
    assert request.approved_arguments is None
    assert request.run.status == RunStatus.QUEUED
    assert AuditEvent.objects.filter(action="approval.rejected").count() == 1


def test_a_stale_hash_is_refused(refund_request, decide, approver):
    request = refund_request()

    with refused("stale"):
        decide(request, approver, seen_hash=arguments_hash({**PROPOSED, "amount": 1}))

    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING


def test_the_user_who_started_the_run_cannot_approve_it(refund_request, decide, member, waiting_run):
    owner = member("oscar", Role.OWNER)
    request = refund_request(run=waiting_run(created_by=owner))

    with refused("self_approval"):
        decide(request, owner)

    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING


def test_the_user_a_run_acts_for_cannot_approve_it(refund_request, decide, approver, waiting_run):
    request = refund_request(run=waiting_run(on_behalf_of=approver))

    with refused("self_approval"):
        decide(request, approver)


def test_self_approval_is_allowed_when_the_tenant_allows_it(refund_request, decide, member, waiting_run, tenant):
    tenant.allow_self_approval = True
    tenant.save()
    owner = member("oscar", Role.OWNER)
    request = refund_request(run=waiting_run(created_by=owner))

    decide(request, owner)

    request.refresh_from_db()
    assert request.status == ApprovalStatus.APPROVED


def test_a_role_without_decide_approvals_cannot_decide(refund_request, decide, member):
    viewer = member("vera", Role.VIEWER)
    request = refund_request()

    with refused("not_allowed"):
        decide(request, viewer)


def test_an_api_key_without_the_approvals_scope_cannot_decide(refund_request, decide, approver, tenant):
    from agentops.audit.services import Actor
    from agentops.tenancy.services import api_key_create

    key, _ = api_key_create(tenant=tenant, user=approver, name="ro", scopes=["read"], actor=Actor.system())
    request = refund_request()

    with refused("not_allowed"):
        decide(request, approver, api_key=key)


def test_only_the_approver_group_may_decide(refund_request, decide, approver, second_approver, group_with):
    finance = group_with("finance", second_approver)
    request = refund_request(approver_group_id=finance.pk)

    with refused("not_allowed"):
        decide(request, approver)
    decide(request, second_approver)

    request.refresh_from_db()
    assert request.status == ApprovalStatus.APPROVED and request.decided_by == second_approver


def test_a_quorum_of_two_needs_two_different_approvers(refund_request, decide, approver, second_approver):
    request = refund_request(required_approvals=2)

    decide(request, approver)
    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING and request.run.status == RunStatus.WAITING
    with refused("already_decided"):
        decide(request, approver)
    decide(request, second_approver)

    request.refresh_from_db()
    assert request.status == ApprovalStatus.APPROVED and request.decided_by == second_approver
    assert request.run.status == RunStatus.QUEUED
    assert ApprovalDecision.objects.filter(request=request).count() == 2


def test_an_edit_under_a_quorum_asks_earlier_approvers_again(refund_request, decide, approver, second_approver):
    request = refund_request(required_approvals=2)
    decide(request, approver)
    seen_by_first = request.current_hash

    decide(request, second_approver, seen_hash=seen_by_first, arguments={**PROPOSED, "amount": 60})
    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING
    assert request.current_arguments == {**PROPOSED, "amount": 60} and request.approval_count == 1
    with refused("stale"):
        decide(request, approver, seen_hash=seen_by_first)
    decide(request, approver, seen_hash=request.current_hash)

    request.refresh_from_db()
    assert request.status == ApprovalStatus.APPROVED
    assert request.approved_arguments == {**PROPOSED, "amount": 60}


def test_a_decided_request_says_who_decided(refund_request, decide, approver, second_approver):
    request = refund_request()
    decide(request, approver)

    with refused("already_decided") as refusal:
        decide(request, second_approver)

    assert "approved by arthur" in refusal.error.message
    assert ApprovalDecision.objects.filter(request=request).count() == 1


def test_a_request_of_another_tenant_is_not_found(refund_request, decide, member, other_tenant):
    outsider = member("olga", Role.OWNER, in_tenant=other_tenant)
    request = refund_request()

    with refused("not_found"):
        decide(request, outsider, in_tenant=other_tenant)

    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING
