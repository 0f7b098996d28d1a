"""Outcomes that do not lie: a run that succeeded although a tool call ended in an error says so
(Run.tool_errors, `succeeded_with_errors`) in the API, the runs list and the trace header."""

import pytest
from django.urls import reverse

from agentops.audit.services import Actor
from runs.models import RunOutcome, RunStatus, Step, StepKind, StepStatus, run_outcome
from runs.services import step_resolve_in_doubt
from tests.runs.test_tool_steps import REFUND_SCHEMA, calls, loop_run
from tests.support.runs_journal import make_run
from tests.support.tool_servers import Reply, ScriptedHTTPServer
from tools.services import tool_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def refusing_billing(allow_outbound):
    """A billing system that refuses every refund as too large (422)."""
    reply = Reply(422, {"error": "amount_too_large", "message": "Order 7 has 10.00 USD left to refund."})
    with ScriptedHTTPServer(lambda request: reply) as server:
        allow_outbound(server.url)
        yield server


def http_tool(tenant, server, *, name="billing.refund", effect="write"):
    return tool_create(tenant=tenant, name=name, kind="http", actor=Actor.system("test"), description=name,
                       input_schema=REFUND_SCHEMA, effect=effect, idempotent=True,
                       config={"method": "POST", "url": f"{server.url}/refunds"})


def talked_around(start_run, name="billing__refund"):
    """A run whose model calls the tool once, then answers as if nothing went wrong."""
    return loop_run(start_run, calls(name, {"order_id": "7", "amount": 20}), {"content": "Your refund is on its way."},
                    tools=(name.replace("__", "."),))


def test_a_refused_refund_that_the_model_talks_around_is_succeeded_with_errors(start_run, advance, tenant,
                                                                               refusing_billing):
    http_tool(tenant, refusing_billing)

    run = advance(talked_around(start_run))

    step = Step.objects.get(run=run, kind=StepKind.TOOL)
    assert step.status == StepStatus.FAILED and run.status == RunStatus.SUCCEEDED
    assert run.tool_errors == 1 and run.outcome == RunOutcome.SUCCEEDED_WITH_ERRORS


def test_a_failed_read_journaled_with_the_runs_next_write_is_counted(start_run, advance, tenant, refusing_billing):
    http_tool(tenant, refusing_billing, name="orders.lookup", effect="read")

    run = advance(talked_around(start_run, "orders__lookup"))

    assert Step.objects.get(run=run, kind=StepKind.TOOL).status == StepStatus.FAILED
    assert run.tool_errors == 1 and run.outcome == RunOutcome.SUCCEEDED_WITH_ERRORS


def test_a_refused_call_counts_as_a_tool_error(start_run, advance):
    run = advance(loop_run(start_run, calls("crm__delete_everything", {}), {"content": "Done."}))

    assert run.tool_errors == 1 and run.outcome == RunOutcome.SUCCEEDED_WITH_ERRORS


def test_a_run_whose_tools_all_answered_is_plainly_succeeded(start_run, advance, tenant, allow_outbound):
    with ScriptedHTTPServer(lambda request: Reply(200, {"ok": True})) as server:
        allow_outbound(server.url)
        http_tool(tenant, server)
        run = advance(talked_around(start_run))

    assert run.tool_errors == 0 and run.outcome == RunOutcome.SUCCEEDED


def test_an_in_doubt_call_marked_failed_counts_as_a_tool_error(agent, operator):
    run = make_run(agent, status=RunStatus.WAITING, waiting_reason="in_doubt")
    Step.objects.create(run=run, seq=1, kind=StepKind.TOOL, name="billing.refund", status=StepStatus.IN_DOUBT,
                        started_at=run.created_at)

    step_resolve_in_doubt(run=run, seq=1, action="fail", actor=Actor.for_user(operator))

    run.refresh_from_db()
    assert run.tool_errors == 1


@pytest.mark.parametrize("status, tool_errors, outcome", [
    (RunStatus.SUCCEEDED, 2, "succeeded_with_errors"),
    (RunStatus.SUCCEEDED, 0, "succeeded"),
    (RunStatus.FAILED, 3, "failed"),
    (RunStatus.WAITING, 1, "waiting"),
])
def test_the_outcome_is_the_status_but_for_a_success_with_tool_errors(status, tool_errors, outcome):
    assert run_outcome(status, tool_errors) == outcome


def test_the_api_the_list_and_the_trace_show_succeeded_with_errors(start_run, advance, tenant, refusing_billing,
                                                                   api, client, operator):
    http_tool(tenant, refusing_billing)
    run = advance(talked_around(start_run))
    client.force_login(operator)

    detail = api.get(f"/api/v1/runs/{run.pk}/").json()
    listed = api.get("/api/v1/runs/?status=succeeded_with_errors").json()["results"]
    page = client.get(reverse("runs:list"), {"status": "succeeded_with_errors"}).content.decode()
    trace = client.get(reverse("runs:trace", args=[run.pk])).content.decode()

    assert (detail["status"], detail["outcome"], detail["tool_errors"]) == ("succeeded", "succeeded_with_errors", 1)
    assert [r["id"] for r in listed] == [str(run.pk)]
    assert 'class="badge status-succeeded_with_errors"' in page and "⚠ 1 tool error" in page
    assert "Succeeded with errors" in trace and "status-succeeded_with_errors" in trace


def test_the_with_errors_filter_leaves_out_clean_successes(start_run, advance, api, tenant, allow_outbound):
    with ScriptedHTTPServer(lambda request: Reply(200, {"ok": True})) as server:
        allow_outbound(server.url)
        http_tool(tenant, server)
        clean = advance(talked_around(start_run))

    assert api.get("/api/v1/runs/?status=succeeded_with_errors").json()["results"] == []
    assert [r["id"] for r in api.get("/api/v1/runs/?status=succeeded").json()["results"]] == [str(clean.pk)]
