"""Argument rules: the gateway refuses, before the call, arguments that break a rule over the run's
user (their membership's attributes in the run's tenant) and the run (its metadata). A refusal is a
ToolRefused the model reads, `tool_rule_violated`; a rule that cannot be evaluated refuses too."""

import pytest

from agentops.tenancy.models import Membership
from agentops.tenancy.roles import Role
from tools.gateway import ToolRefused, ToolSession
from tools.errors import ToolInvalid
from tools.services import tool_update

from .conftest import ACTOR

pytestmark = pytest.mark.django_db

SCHEMA = {"type": "object", "properties": {"customer_id": {"type": "string"}, "order_id": {"type": "string"}}}


@pytest.fixture
def lookup(make_tool):
    return make_tool("orders.find", input_schema=SCHEMA,
                     argument_rules=["arguments.customer_id == user.attributes.customer_id"])


def with_attributes(user, tenant, **attributes):
    Membership.objects.filter(user=user, tenant=tenant).update(attributes=attributes)
    return user


def test_the_users_own_customer_passes(lookup, operator, tenant, make_run):
    run = make_run(with_attributes(operator, tenant, customer_id="C-1"), tools=["orders.find"])

    prepared = ToolSession(run).prepare("orders.find", {"customer_id": "C-1", "order_id": "7"})

    assert prepared.arguments == {"customer_id": "C-1", "order_id": "7"}


def test_another_customer_is_refused_naming_the_rule_and_the_argument(lookup, operator, tenant, make_run):
    run = make_run(with_attributes(operator, tenant, customer_id="C-1"), tools=["orders.find"])

    with pytest.raises(ToolRefused) as refused:
        ToolSession(run).prepare("orders.find", {"customer_id": "C-2", "order_id": "7"})

    assert refused.value.code == "tool_rule_violated"
    assert "arguments.customer_id == user.attributes.customer_id does not hold (customer_id = 'C-2')" in (
        refused.value.message)
    assert "C-1" not in refused.value.message  # the user's own attributes are not told to the model


def test_the_rule_reads_the_user_the_run_acts_for(lookup, operator, member, tenant, make_run):
    customer = with_attributes(member("cora", Role.OPERATOR), tenant, customer_id="C-9")
    with_attributes(operator, tenant, customer_id="C-1")
    run = make_run(operator, tools=["orders.find"], on_behalf_of=customer)
    session = ToolSession(run)

    assert session.prepare("orders.find", {"customer_id": "C-9"}).arguments["customer_id"] == "C-9"
    with pytest.raises(ToolRefused, match="does not hold"):
        session.prepare("orders.find", {"customer_id": "C-1"})


def test_a_user_without_the_attribute_is_refused(lookup, operator, make_run):
    run = make_run(operator, tools=["orders.find"])

    with pytest.raises(ToolRefused) as refused:
        ToolSession(run).prepare("orders.find", {"customer_id": "C-1"})

    assert refused.value.code == "tool_rule_violated" and "could not be checked" in refused.value.message


def test_another_tenants_membership_is_never_read(lookup, operator, tenant, other_tenant, make_run):
    Membership.objects.create(user=operator, tenant=other_tenant, role=Role.OPERATOR,
                              attributes={"customer_id": "C-2"})
    run = make_run(operator, tools=["orders.find"])

    with pytest.raises(ToolRefused, match="could not be checked"):
        ToolSession(run).prepare("orders.find", {"customer_id": "C-2"})


def test_a_rule_reads_the_runs_metadata_and_a_list_of_the_users(make_tool, operator, tenant, make_run):
    make_tool("orders.find", input_schema=SCHEMA, argument_rules=[
        "arguments.customer_id in user.attributes.customer_ids", "arguments.order_id == run.metadata.order_id"])
    run = make_run(with_attributes(operator, tenant, customer_ids=["C-1", "C-2"]), tools=["orders.find"])
    run.metadata = {"order_id": "7"}
    session = ToolSession(run)

    assert session.prepare("orders.find", {"customer_id": "C-2", "order_id": "7"})
    with pytest.raises(ToolRefused, match="run.metadata.order_id does not hold"):
        session.prepare("orders.find", {"customer_id": "C-2", "order_id": "8"})
    with pytest.raises(ToolRefused, match="customer_ids does not hold"):
        session.prepare("orders.find", {"customer_id": "C-3", "order_id": "7"})


@pytest.mark.parametrize("rule, problem", [
    ("arguments.customer == user.attributes.customer_id", "arguments.customer does not exist"),
    ("user.password == 'x'", "user.password does not exist"),
    ("customer_id == 'x'", "reads only arguments, user, run"),
    ("arguments.customer_id.__class__ == 1", "not allowed"),
    ("open('/etc/passwd')", "Only these functions"),
])
def test_a_rule_that_could_reach_elsewhere_or_names_nothing_is_refused_on_save(lookup, rule, problem):
    with pytest.raises(ToolInvalid) as invalid:
        tool_update(tool=lookup, changes={"argument_rules": [rule]}, actor=ACTOR)

    assert problem in invalid.value.errors["argument_rules"][0]


def test_a_tenant_sets_rules_on_its_copy_of_a_global_tool_through_the_api(client_for, tenant):
    developer = client_for(Role.DEVELOPER, scopes=("read", "tools:write"))
    rule = "arguments.query != user.attributes.blocked_query"

    response = developer.patch("/api/v1/tools/kb.search/", {"argument_rules": [rule]}, format="json")

    assert response.status_code == 200 and response.json()["argument_rules"] == [rule]
    assert response.json()["scope"] == "tenant"


def test_the_api_refuses_a_rule_with_the_reason(client_for):
    developer = client_for(Role.DEVELOPER, scopes=("read", "tools:write"))

    response = developer.patch("/api/v1/tools/kb.search/", {"argument_rules": ["user.password == 1"]}, format="json")

    assert response.status_code == 400
    assert "user.password does not exist" in response.json()["error"]["details"]["argument_rules"][0]
