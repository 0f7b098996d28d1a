"""Add to eval suite: a production run becomes a case, proposed from its journal and edited first."""

import json

import pytest
from django.urls import reverse

from agentops.audit.models import AuditEvent
from agentops.audit.services import Actor
from agentops.tenancy.roles import Role
from demo.seed import seed_demo_tools
from evals.models import EvalCase, EvalSuite
from tests.factories import EvalSuiteFactory
from tests.support.evals import finished_run

pytestmark = pytest.mark.django_db(databases=["default", "demo"])  # the demo tools read the demo database

KB_ANSWER_LINE = "Refund policy — You can ask for a refund within 30 days of delivery."


@pytest.fixture
def kb_run(tenant, operator):
    """A run of the demo model that searched the knowledge base (a Python tool of the demo app)."""
    seed_demo_tools(tenant=tenant, restricted_user=operator, actor=Actor.system("test"), report=[])
    return finished_run(operator, tenant, "helpdesk", "What is your refund policy?", tools=["kb.search"])



def test_the_trace_of_a_finished_run_links_to_the_form(client, operator, agent_run):
    client.force_login(operator)

    html = client.get(reverse("runs:trace", args=[agent_run.pk])).content.decode()

    assert f'href="/evals/from-run/{agent_run.pk}/"' in html
    assert "Add to eval suite" in html


def test_a_viewer_gets_no_link_and_no_form(client, member, agent_run):
    viewer = member("vera", Role.VIEWER)
    client.force_login(viewer)

    assert "Add to eval suite" not in client.get(reverse("runs:trace", args=[agent_run.pk])).content.decode()
    assert client.get(reverse("evals:case-from-run", args=[agent_run.pk])).status_code == 403


def test_a_short_answer_is_proposed_verbatim(client, operator, agent_run):
    client.force_login(operator)

    form = client.get(reverse("evals:case-from-run", args=[agent_run.pk])).context["form"]

    assert form["message"].value() == "Hello"
    assert form["expected"].value() == "Hello! How can I help you today?"
    assert form.initial["assertions"] == [{"type": "equals", "value": "Hello! How can I help you today?"}]
    assert form["suite"].value() is None  # no suite of this agent yet: a new one


def test_a_long_answer_is_checked_by_its_longest_line_and_the_tools_by_a_trajectory(client, operator, kb_run):
    client.force_login(operator)

    form = client.get(reverse("evals:case-from-run", args=[kb_run.pk])).context["form"]

    [contains, trajectory] = form.initial["assertions"]
    assert contains["type"] == "icontains" and contains["value"] in kb_run.output["answer"]
    assert trajectory == {"type": "trajectory", "value": ["kb.search"]}


def test_saving_into_a_new_suite_creates_the_suite_and_the_case(client, operator, tenant, kb_run):
    client.force_login(operator)
    url = reverse("evals:case-from-run", args=[kb_run.pk])
    assertions = [{"type": "icontains", "value": "30 days"}, {"type": "trajectory", "value": ["kb.search"]}]

    response = client.post(url, {"suite": "", "new_suite": "helpdesk-regressions", "name": "refund policy",
                                 "message": "What is your refund policy?", "input": "null",
                                 "expected": KB_ANSWER_LINE, "assertions": json.dumps(assertions)})

    suite = EvalSuite.objects.get(tenant=tenant, name="helpdesk-regressions")
    assert response.status_code == 302 and response.headers["Location"] == reverse("evals:suite", args=[suite.pk])
    case = suite.cases.get()
    assert (case.name, case.message, case.input, case.expected, case.assertions) == (
        "refund policy", "What is your refund policy?", None, KB_ANSWER_LINE, assertions)
    assert case.tags == ["from-production"] and str(kb_run.pk) in case.description
    assert suite.agent_id == kb_run.agent_id
    assert AuditEvent.objects.filter(action="eval_case.added", tenant=tenant).count() == 1


def test_saving_into_an_existing_suite_appends_the_case(client, operator, tenant, agent_run):
    client.force_login(operator)
    suite = EvalSuiteFactory(agent=agent_run.agent, name="greetings")
    first = EvalCase.objects.create(suite=suite, name="first", message="hi", position=4)

    client.post(reverse("evals:case-from-run", args=[agent_run.pk]), {
        "suite": suite.pk, "new_suite": "", "name": "hello", "message": "Hello", "input": "null", "expected": "",
        "assertions": '[{"type": "equals", "value": "Hello! How can I help you today?"}]'})

    assert [(case.name, case.position) for case in suite.cases.order_by("position")] == [(first.name, 4), ("hello", 5)]


@pytest.mark.parametrize("change, field, message", [
    ({"suite": "", "new_suite": ""}, "new_suite", "Choose a suite, or name a new one"),
    ({"assertions": '{"type": "equals"}'}, "assertions", 'A JSON list of objects, each with a "type".'),
    ({"assertions": "[not json"}, "assertions", "Enter a valid JSON."),
    ({"message": "", "input": "null"}, "message", "Give the message, or a JSON object as the input."),
    ({"assertions": '[{"type": "regex", "value": "("}]'}, "assertions", "regex"),
])
def test_a_bad_form_is_shown_again_with_the_reason_and_saves_nothing(client, operator, tenant, agent_run,
                                                                     change, field, message):
    client.force_login(operator)
    data = {"suite": "", "new_suite": "greetings", "name": "hello", "message": "Hello", "input": "null",
            "expected": "", "assertions": "[]", **change}

    response = client.post(reverse("evals:case-from-run", args=[agent_run.pk]), data)

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not EvalSuite.objects.filter(tenant=tenant).exists() and not EvalCase.objects.exists()


def test_a_taken_suite_name_is_refused_in_the_form(client, operator, tenant, agent_run):
    client.force_login(operator)
    EvalSuiteFactory(agent=agent_run.agent, name="greetings")

    response = client.post(reverse("evals:case-from-run", args=[agent_run.pk]), {
        "suite": "", "new_suite": "greetings", "name": "hello", "message": "Hello", "input": "null",
        "expected": "", "assertions": "[]"})

    assert response.status_code == 400
    assert response.context["form"].errors["new_suite"] == ["This tenant already has a suite called 'greetings'."]
    assert not EvalCase.objects.exists()


def test_another_tenants_run_is_not_found(client, member, other_tenant, agent_run):
    client.force_login(member("stranger", Role.OWNER, in_tenant=other_tenant))

    assert client.get(reverse("evals:case-from-run", args=[agent_run.pk])).status_code == 404
