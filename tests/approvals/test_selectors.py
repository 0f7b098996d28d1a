import itertools

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agentops.tenancy.roles import Role
from approvals.models import ApprovalStatus
from approvals.selectors import (
    approval_executed_arguments,
    approval_get_for_user,
    approval_list_for_user,
    approval_pending_count,
)
from approvals.services import approval_decide
from runs.journal import BlobWriter
from runs.models import Step, StepKind, StepStatus
from tests.approvals.conftest import PROPOSED


def test_the_list_is_oldest_first_and_counts_only_pending(refund_request, approver, principal_for, tenant):
    first, second = refund_request(), refund_request()
    principal = principal_for(approver, tenant)

    assert list(approval_list_for_user(principal=principal)) == [first, second]
    assert approval_pending_count(principal) == 2


def test_the_list_leaves_out_runs_the_user_requested(refund_request, waiting_run, approver, principal_for, tenant):
    refund_request(run=waiting_run(created_by=approver))
    refund_request(run=waiting_run(on_behalf_of=approver))
    theirs = refund_request()

    assert list(approval_list_for_user(principal=principal_for(approver, tenant))) == [theirs]

    tenant.allow_self_approval = True
    tenant.save()
    assert approval_list_for_user(principal=principal_for(approver, tenant)).count() == 3


def test_a_role_that_cannot_decide_has_an_empty_inbox_but_can_read_a_request(refund_request, member, principal_for,
                                                                             tenant):
    viewer = member("vera", Role.VIEWER)
    request = refund_request()
    principal = principal_for(viewer, tenant)

    assert approval_pending_count(principal) == 0
    assert approval_get_for_user(principal=principal, request_id=request.pk) == request


def test_a_request_is_invisible_from_another_tenant(refund_request, member, principal_for, other_tenant):
    request = refund_request()
    outsider = member("olga", Role.OWNER, in_tenant=other_tenant)

    assert approval_get_for_user(principal=principal_for(outsider, other_tenant), request_id=request.pk) is None
    assert approval_pending_count(principal_for(outsider, other_tenant)) == 0


def test_executed_arguments_come_from_the_tool_step_after_the_approval_even_as_a_blob(refund_request):
    request = refund_request()
    assert approval_executed_arguments(request) is None
    blobs = BlobWriter()
    packed = blobs.pack({"arguments": {**PROPOSED, "amount": 99}, "idempotency_key": "k"}, force=True)
    blobs.flush()
    Step.objects.create(run=request.run, seq=request.step_seq + 1, kind=StepKind.TOOL, name="payments.refund",
                        status=StepStatus.COMPLETED, input=packed, started_at=timezone.now())

    assert approval_executed_arguments(request) == {**PROPOSED, "amount": 99}


def test_the_inbox_reads_a_constant_number_of_queries(refund_request, waiting_run, approver, second_approver,
                                                      principal_for, tenant, member):
    requesters = (member(f"requester{n}") for n in itertools.count())

    def voted_request():
        request = refund_request(run=waiting_run(created_by=next(requesters)), required_approvals=2)
        approval_decide(request_id=request.pk, user=second_approver, verdict="approve",
                        seen_hash=request.current_hash, principal=principal_for(second_approver, tenant))

    def queries_to_read_the_inbox():
        principal = principal_for(approver, tenant)
        with CaptureQueriesContext(connection) as queries:
            rows = [(a.agent.slug, a.approval_count, [v.user.username for v in a.decisions.all()])
                    for a in approval_list_for_user(principal=principal, status=ApprovalStatus.PENDING)]
        return len(queries), len(rows)

    voted_request()
    one = queries_to_read_the_inbox()
    for _ in range(5):
        voted_request()

    assert queries_to_read_the_inbox() == (one[0], 6)
    assert one[0] == 3  # requests with run and agent, their votes, the voters
