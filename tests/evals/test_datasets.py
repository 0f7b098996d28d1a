"""Suites in and out of files: promptfoo YAML and JSONL round-trip; a bad file imports nothing."""

from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command

from evals.datasets import suite_export, suite_import
from evals.errors import EvalError
from evals.models import EvalCase, EvalSuite
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db

PROMPTFOO = """
description: Refund requests
defaultTest:
  vars:
    shop: Acme
  assert:
    - type: not-icontains
      value: sorry
tests:
  - description: refund an order
    vars:
      message: "Refund order {{order}} at {{shop}}"
      order: "1042"
    assert:
      - type: icontains
        value: refunded
      - type: tool-called
        value: {name: payments.refund, arguments: {order_id: "1042"}}
        weight: 2
      - type: llm-rubric
        value: Polite and names the order
        threshold: 0.7
    threshold: 0.8
    metadata:
      tags: [refunds]
      approval_decisions: [{decision: approve}]
      tool_results: [{tool: payments.refund, output: {refund_id: R-1}}]
  - description: structured input
    vars:
      input: {order_id: "7"}
    assert:
      - type: is-json
"""


@pytest.fixture
def agent(tenant):
    return AgentFactory(tenant=tenant, slug="refunder")


def test_a_promptfoo_file_round_trips_through_export(tenant, agent):
    suite, added = suite_import(tenant=tenant, name="refunds", agent_slug="refunder", text=PROMPTFOO, format="yaml")

    exported = suite_export(suite, format="yaml")
    again, _ = suite_import(tenant=tenant, name="copy", agent_slug="refunder", text=exported, format="yaml")

    assert added == 2
    assert yaml.safe_load(exported) == yaml.safe_load(suite_export(again, format="yaml"))
    first = suite.cases.get(name="refund an order")
    assert first.message == "Refund order {{order}} at {{shop}}" and first.vars == {"order": "1042"}
    assert first.threshold == 0.8 and first.assertions[1]["weight"] == 2
    assert first.approval_decisions == [{"decision": "approve"}] and first.tags == ["refunds"]
    assert suite.cases.get(name="structured input").input == {"order_id": "7"}
    assert (suite.default_vars, suite.description) == ({"shop": "Acme"}, "Refund requests")
    assert yaml.safe_load(exported)["tests"] == yaml.safe_load(PROMPTFOO)["tests"]


def test_jsonl_round_trips_too(tenant, agent):
    suite, _ = suite_import(tenant=tenant, name="refunds", agent_slug="refunder", text=PROMPTFOO, format="yaml")

    lines = suite_export(suite, format="jsonl")
    again, added = suite_import(tenant=tenant, name="copy", agent_slug="refunder", text=lines, format="jsonl")

    assert added == 2 and suite_export(again, format="jsonl") == lines


@pytest.mark.parametrize("kind", ["javascript", "python", "webhook"])
def test_an_assertion_type_we_do_not_run_is_refused_by_name_and_nothing_is_imported(tenant, agent, kind):
    text = PROMPTFOO + f"  - description: custom\n    assert:\n      - type: {kind}\n        value: output.ok\n"

    with pytest.raises(EvalError) as refused:
        suite_import(tenant=tenant, name="refunds", agent_slug="refunder", text=text, format="yaml")

    assert refused.value.message.startswith(f"tests[2].assert[0]: assertion type {kind!r} is not supported")
    assert not EvalSuite.objects.exists() and not EvalCase.objects.exists()


def test_the_import_command_refuses_with_status_2(tenant, agent, tmp_path):
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(PROMPTFOO.replace("type: is-json", "type: python"))

    with pytest.raises(CommandError) as refused:
        call_command("eval", "import", str(path), "--suite", "refunds", "--agent", "refunder", "--tenant", tenant.slug,
                     stdout=StringIO())

    assert refused.value.returncode == 2 and "'python' is not supported" in str(refused.value)
    assert not EvalSuite.objects.exists()


def test_import_and_export_through_the_command(tenant, agent, tmp_path):
    source, copy = tmp_path / "in.yaml", tmp_path / "out.yaml"
    source.write_text(PROMPTFOO)

    out = StringIO()
    call_command("eval", "import", str(source), "--suite", "refunds", "--agent", "refunder", "--tenant", tenant.slug,
                 stdout=out)
    call_command("eval", "export", "refunds", "--output", str(copy), "--tenant", tenant.slug, stderr=StringIO())

    assert "2 case(s) imported" in out.getvalue()
    assert yaml.safe_load(copy.read_text())["tests"] == yaml.safe_load(PROMPTFOO)["tests"]


def test_a_suite_of_one_tenant_is_not_another_tenants(tenant, other_tenant, agent):
    AgentFactory(tenant=other_tenant, slug="refunder")
    suite_import(tenant=tenant, name="refunds", agent_slug="refunder", text=PROMPTFOO, format="yaml")

    theirs, added = suite_import(tenant=other_tenant, name="refunds", agent_slug="refunder", text=PROMPTFOO,
                                 format="yaml")

    assert theirs.tenant == other_tenant and theirs.cases.count() == added == 2
    with pytest.raises(CommandError):
        call_command("eval", "export", "nothing-here", "--tenant", other_tenant.slug, stdout=StringIO())


def test_an_import_is_audited_in_the_suites_tenant(tenant, agent, tmp_path):
    from django.core.management import call_command

    from agentops.audit.models import AuditEvent

    path = tmp_path / "refunds.yaml"
    path.write_text(PROMPTFOO)
    call_command("eval", "import", str(path), "--suite", "refunds", "--agent", "refunder", "--tenant", tenant.slug,
                 stdout=StringIO())

    created, added = (AuditEvent.objects.get(tenant=tenant, action=action)
                      for action in ("eval_suite.created", "eval_case.added"))
    assert created.data == {"name": "refunds", "agent": "refunder"}
    assert len(added.data["cases"]) == 2 and added.data["imported"] == "yaml"
    assert added.actor_label == "manage.py eval import refunds.yaml"
