"""`/metrics`: the Prometheus text format, parsed with prometheus-client's own parser, its values
checked against seeded runs, tool calls, usage and approvals of two tenants; and who may read it."""

import datetime as dt

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from approvals.models import ApprovalRequest, ApprovalStatus
from runs.models import Run, RunStatus, StepStatus, WaitingReason
from runs.rollups import run_rollups_add
from tests.factories import AgentFactory
from tests.runs.test_dashboard import usage
from tests.support.runs_journal import add_model_call, add_tool_call, make_run

pytestmark = pytest.mark.django_db

LOOPBACK, ELSEWHERE = "127.0.0.1", "203.0.113.9"


def scrape(client, **headers) -> dict:
    """{(sample name, frozenset of labels): value} of one scrape from the loopback address."""
    response = client.get("/metrics", REMOTE_ADDR=headers.pop("REMOTE_ADDR", LOOPBACK), **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.content.decode()) for sample in family.samples}


def labels(**values) -> frozenset:
    return frozenset(values.items())


def ended(agent, status, *, seconds: float, error=None, tools=(), model_calls=()):
    """A run that ended `seconds` after its creation, with model calls `(ms, ok)` then tool calls
    `(name, ms, ok)`, rolled up as the engine does when a run ends."""
    run = make_run(agent, status=status, error=error, tool_errors=sum(not ok for _, _, ok in tools))
    for seq, (ms, ok) in enumerate(model_calls, start=1):
        add_model_call(run, seq, [], duration_ms=ms, status=StepStatus.COMPLETED if ok else StepStatus.FAILED)
    for seq, (name, ms, ok) in enumerate(tools, start=len(model_calls) + 1):
        add_tool_call(run, seq, name, duration_ms=ms, status=StepStatus.COMPLETED if ok else StepStatus.FAILED)
    now = timezone.now()
    Run.objects.filter(pk=run.pk).update(created_at=now - dt.timedelta(seconds=seconds), finished_at=now)
    run_rollups_add(run.pk)
    return run


@pytest.fixture
def seeded(tenant, other_tenant, agent):
    billing = AgentFactory(tenant=tenant, slug="billing")
    foreign = AgentFactory(tenant=other_tenant, slug="support")
    ended(agent, RunStatus.SUCCEEDED, seconds=0.2, tools=[("lookup", 40, True), ("refund", 700, False)])
    ended(agent, RunStatus.SUCCEEDED, seconds=3, tools=[("lookup", 60, True)], model_calls=[(800, True), (1200, True)])
    ended(agent, RunStatus.FAILED, seconds=40, error={"code": "model_error", "message": "503"},
          model_calls=[(30_000, False)])
    ended(billing, RunStatus.FAILED, seconds=1, error={"code": "tool_failed"}, tools=[("refund", 2000, False)])
    ended(foreign, RunStatus.FAILED, seconds=1, error={"code": "model_error"})
    queued = [make_run(agent, status=RunStatus.QUEUED) for _ in range(2)]
    Run.objects.filter(pk=queued[0].pk).update(created_at=timezone.now() - dt.timedelta(minutes=10))
    make_run(foreign, status=RunStatus.QUEUED)
    waiting = make_run(billing, status=RunStatus.WAITING, waiting_reason=WaitingReason.APPROVAL)
    for seq, status in enumerate([ApprovalStatus.PENDING, ApprovalStatus.PENDING, ApprovalStatus.APPROVED], 1):
        ApprovalRequest.objects.create(tenant=tenant, run=waiting, agent=billing, step_seq=seq, title="Refund",
                                       proposed_hash="-", status=status)
    usage(agent, timezone.now().date(), calls=3, tokens_in=300, tokens_out=30, cost="0.25")
    usage(agent, timezone.now().date() - dt.timedelta(days=40), calls=1, tokens_in=100, tokens_out=10, cost="0.50")
    usage(foreign, timezone.now().date(), calls=7, cost="9")


def test_runs_by_status_and_the_oldest_queued_run(client, seeded):
    m = scrape(client)
    assert m["agentops_runs_unfinished", labels(tenant="acme", status="queued")] == 2
    assert m["agentops_runs_unfinished", labels(tenant="acme", status="waiting")] == 1
    assert m["agentops_runs_unfinished", labels(tenant="globex", status="queued")] == 1
    assert 600 <= m["agentops_oldest_queued_run_age_seconds", labels(tenant="acme")] < 660
    assert m["agentops_runs_ended_total", labels(tenant="acme", agent="support", outcome="succeeded_with_errors")] == 1
    assert m["agentops_runs_ended_total", labels(tenant="acme", agent="support", outcome="succeeded")] == 1
    assert m["agentops_run_failures_total", labels(tenant="acme", agent="support", code="model_error")] == 1
    assert m["agentops_run_failures_total", labels(tenant="acme", agent="billing", code="tool_failed")] == 1
    assert m["agentops_run_failures_total", labels(tenant="globex", agent="support", code="model_error")] == 1


def test_run_duration_histogram(client, seeded):
    m = scrape(client)
    support = dict(tenant="acme", agent="support")
    assert m["agentops_run_duration_seconds_count", labels(**support)] == 3
    assert m["agentops_run_duration_seconds_sum", labels(**support)] == pytest.approx(43.2, abs=0.01)
    assert m["agentops_run_duration_seconds_bucket", labels(**support, le="0.25")] == 1
    assert m["agentops_run_duration_seconds_bucket", labels(**support, le="5.0")] == 2
    assert m["agentops_run_duration_seconds_bucket", labels(**support, le="+Inf")] == 3


def test_tool_calls_errors_and_latency(client, seeded):
    m = scrape(client)
    refund, lookup = labels(tenant="acme", tool="refund"), labels(tenant="acme", tool="lookup")
    assert (m["agentops_tool_calls_total", refund], m["agentops_tool_errors_total", refund]) == (2, 2)
    assert (m["agentops_tool_calls_total", lookup], m["agentops_tool_errors_total", lookup]) == (2, 0)
    assert m["agentops_tool_call_duration_seconds_bucket", labels(tenant="acme", tool="lookup", le="0.05")] == 1
    assert m["agentops_tool_call_duration_seconds_bucket", labels(tenant="acme", tool="lookup", le="0.1")] == 2
    assert m["agentops_tool_call_duration_seconds_sum", refund] == pytest.approx(2.7)


def test_model_call_latency_and_errors(client, seeded):
    m = scrape(client)
    model = labels(tenant="acme", model="gpt-4o-mini")
    assert m["agentops_model_call_duration_seconds_count", model] == 3
    assert m["agentops_model_call_duration_seconds_bucket", labels(**dict(model), le="1.0")] == 1
    assert m["agentops_model_call_duration_seconds_bucket", labels(**dict(model), le="2.5")] == 2
    assert m["agentops_model_call_duration_seconds_sum", model] == pytest.approx(32.0)
    assert m["agentops_model_call_errors_total", model] == 1


def test_cost_tokens_and_model_calls_sum_every_day(client, seeded):
    m = scrape(client)
    support = dict(tenant="acme", agent="support")
    assert m["agentops_cost_usd_total", labels(**support)] == pytest.approx(0.75)
    assert m["agentops_model_calls_total", labels(**support)] == 4
    assert m["agentops_tokens_total", labels(**support, direction="in")] == 400
    assert m["agentops_cost_usd_total", labels(tenant="globex", agent="support")] == pytest.approx(9)


def test_pending_approvals_and_queue_depth(client, seeded):
    m = scrape(client)
    assert m["agentops_approvals_pending", labels(tenant="acme")] == 2
    assert ("agentops_approvals_pending", labels(tenant="globex")) not in m
    assert m["agentops_task_queue_depth", labels()] >= 0


def test_an_empty_platform_still_answers(client, db):
    assert scrape(client)["agentops_task_queue_depth", labels()] == 0


def test_without_a_token_only_loopback_clients_are_answered(client, db, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR=ELSEWHERE).status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:127.0.0.1").status_code == 200


def test_with_a_token_the_bearer_is_required_from_anywhere(client, db, settings):
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    assert client.get("/metrics", REMOTE_ADDR=LOOPBACK).status_code == 401
    wrong = client.get("/metrics", REMOTE_ADDR=ELSEWHERE, HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")
    assert scrape(client, REMOTE_ADDR=ELSEWHERE, HTTP_AUTHORIZATION="Bearer s3cret-metrics-token") is not None


def test_writes_are_refused(client, db):
    assert client.post("/metrics", REMOTE_ADDR=LOOPBACK).status_code == 405
