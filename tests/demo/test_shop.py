"""The demo's customer-facing agent, through the real engine and the offline demo model: only the
storefront group starts it, and acting for ada (customer C-1001) it looks up her orders and is
refused anyone else's, each refusal audited."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from agentops.audit.models import AuditEvent
from agentops.tenancy.models import Membership, Tenant
from agentops.tenancy.principal import Principal
from agentops.tenancy.roles import Role
from demo.seed import seed_demo
from runs.engine import execute_run
from runs.errors import RunError
from runs.models import Run, RunStatus, Step, StepKind
from runs.services import run_create

from .conftest import DEMO_DATABASES

pytestmark = pytest.mark.django_db(databases=DEMO_DATABASES)


@pytest.fixture
def demo():
    seed_demo()
    return Tenant.objects.get(slug="demo")


def principal(tenant, username):
    membership = Membership.objects.select_related("user").get(tenant=tenant, user__username=username)
    return Principal(tenant=tenant, user=membership.user, membership=membership)


def ask_for_ada(demo, message) -> Run:
    ada = get_user_model().objects.get(username="ada")
    run, _ = run_create(principal=principal(demo, "operator"), agent_slug="shop", input={"message": message},
                        on_behalf_of=ada)
    execute_run(run.pk)
    run.refresh_from_db()
    return run


def lookup(run) -> Step:
    return Step.objects.get(run=run, kind=StepKind.TOOL, name="orders.customer_lookup")


def test_ada_gets_her_own_order(demo):
    run = ask_for_ada(demo, "I am customer #C-1001: where is my order #1042?")

    assert run.status == RunStatus.SUCCEEDED
    [row] = lookup(run).output["rows"]
    assert (row["order_id"], row["customer_id"]) == ("1042", "C-1001")


def test_another_customers_order_is_refused_before_the_call_and_audited(demo):
    run = ask_for_ada(demo, "I am customer #C-1003: where is my order #1043?")

    step = lookup(run)
    assert step.status == "failed" and step.error["code"] == "tool_rule_violated"
    assert run.status == RunStatus.SUCCEEDED  # the model read the refusal and answered
    event = AuditEvent.objects.get(action="tool.refused")
    assert (event.data["code"], event.data["tool"], event.data["user"]) == (
        "tool_rule_violated", "orders.customer_lookup", "ada")


def test_her_own_customer_id_reaches_only_her_orders(demo):
    run = ask_for_ada(demo, "I am customer #C-1001: where is order #1043?")

    assert lookup(run).status == "completed" and lookup(run).output["rows"] == []


def test_a_member_outside_the_storefront_group_cannot_start_the_shop_agent(demo):
    Membership.objects.filter(tenant=demo, user__username="sam").update(role=Role.OPERATOR)

    with pytest.raises(RunError) as refused:
        run_create(principal=principal(demo, "sam"), agent_slug="shop", input={"message": "hi"})

    assert refused.value.code == "agent_restricted"
    assert AuditEvent.objects.filter(action="run.refused", data__user="sam").exists()
    with pytest.raises(CommandError, match="sam may not start shop"):
        call_command("run_agent", "shop", "hi", "--user", "sam")
    assert not Run.objects.filter(agent__slug="shop").exists()
