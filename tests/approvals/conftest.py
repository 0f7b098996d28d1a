import pytest
from django.utils import timezone
from django.contrib.auth.models import Group

from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from approvals.services import approval_request_create
from runs.models import Run, RunStatus, Step, StepKind, StepStatus, WaitingReason
from tools.models import Tool

REFUND_SCHEMA = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "description": "The order to refund."},
        "amount": {"type": "number", "minimum": 0, "maximum": 500, "description": "USD."},
        "reason": {"type": "string", "enum": ["damaged", "late", "other"]},
    },
    "required": ["order_id", "amount"],
    "additionalProperties": False,
}
PROPOSED = {"order_id": "1042", "amount": 120, "reason": "damaged"}
CONTEXT = {
    "request": "My blender arrived broken, please refund order 1042.",
    "findings": [{"tool": "orders.lookup", "result": {"order_id": "1042", "total": 120, "status": "delivered"}}],
    "reason": "The customer reports damage and the order was delivered two days ago.",
    "policy": "payments.refund always needs approval",
}


@pytest.fixture
def principal_for():
    """principal_for(user, tenant, api_key=None) → the Principal a request of that user would get."""

    def make(user, tenant, api_key=None):
        membership = Membership.objects.select_related("tenant").get(user=user, tenant=tenant)
        return Principal(tenant=membership.tenant, user=user, membership=membership, api_key=api_key)

    return make


@pytest.fixture
def second_approver(member):
    from agentops.tenancy.roles import Role

    return member("bella", Role.APPROVER)


@pytest.fixture
def refund_tool(tenant):
    return Tool.objects.create(tenant=tenant, name="payments.refund", description="Refund an order.",
                               kind="http", input_schema=REFUND_SCHEMA, approval="always", effect="destructive")


@pytest.fixture
def waiting_run(tenant, agent, operator):
    """waiting_run(created_by=..., on_behalf_of=..., agent=...) → a run waiting for an approval."""

    def make(created_by=operator, on_behalf_of=None, agent=agent, tenant=tenant):
        return Run.objects.create(
            tenant=tenant, agent=agent, agent_version=agent.current_version, workflow="agent_loop",
            status=RunStatus.WAITING, waiting_reason=WaitingReason.APPROVAL, created_by=created_by,
            on_behalf_of=on_behalf_of, input={"message": CONTEXT["request"]},
        )

    return make


@pytest.fixture
def refund_request(waiting_run, refund_tool):
    """refund_request(run=None, step_seq=2, **policy) → a pending request for payments.refund."""

    def make(run=None, step_seq=2, **policy):
        run = run or waiting_run()
        # The engine's side of the wait: the approval step the decision is delivered to.
        Step.objects.get_or_create(run=run, seq=step_seq, defaults={
            "kind": StepKind.APPROVAL, "name": "payments.refund", "status": StepStatus.WAITING,
            "input": {"arguments": PROPOSED}, "started_at": timezone.now()})
        return approval_request_create(
            run=run, step_seq=step_seq, title="Support wants to call payments.refund",
            tool_name="payments.refund", proposed_arguments=dict(PROPOSED), context=CONTEXT, **policy,
        )

    return make


@pytest.fixture
def group_with(db):
    """group_with("finance", *users) → an auth group holding the users."""

    def make(name, *users):
        group = Group.objects.create(name=name)
        group.user_set.add(*users)
        return group

    return make
