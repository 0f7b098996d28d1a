"""Runs whose tool call that is not idempotent got no answer saying whether it took effect: the
step goes in doubt (as after a crash during the call) and a person settles it; the call is never
sent twice on its own. Real local servers count the payments they apply, by idempotency key."""

import threading

import pytest

from django.urls import reverse

from agentops.audit.models import AuditEvent
from agentops.audit.services import Actor
from runs.models import RunStatus, Step, StepKind, StepStatus, WaitingReason
from runs.services import step_resolve_in_doubt
from tests.support.tool_servers import Payments, free_port
from tools.services import tool_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def payment_run(start_run, tenant, allow_outbound):
    """payment_run(port, idempotent=...) → a queued run that charges 30 through payments.charge."""

    def make(port: int, *, idempotent: bool = False):
        url = f"http://127.0.0.1:{port}"
        allow_outbound(url)
        tool_create(tenant=tenant, name="payments.charge", kind="http", actor=Actor.system("test"),
                    description="Charge a card.", effect="write", idempotent=idempotent, timeout_seconds=0.5,
                    input_schema={"type": "object", "properties": {"amount": {"type": "number"}}},
                    retry_policy={"max_attempts": 10, "base_delay": 0.3, "max_delay": 0.3},
                    config={"method": "POST", "url": f"{url}/charges"})
        return start_run("test_tool_calls", {"calls": [["payments.charge", {"amount": 30}]]},
                         tools=["payments.charge"])

    return make


def in_doubt(run):
    return Step.objects.get(run=run, kind=StepKind.TOOL)


def key(run, step):
    return f"{run.pk}:{step.seq}"


@pytest.mark.parametrize("answer", ["slow", "500"])
def test_a_call_without_a_clear_answer_goes_in_doubt_and_is_sent_once(payment_run, advance, answer):
    # Given a payments server that applies the charge, then answers too late or with a 500
    with Payments(answer) as payments:
        # When the run executes
        run = advance(payment_run(payments.server.port))

    # Then the charge was sent and applied once, and the run waits for a person
    step = in_doubt(run)
    assert len(payments.server.requests) == 1 and payments.applied == {key(run, step): 1}
    assert (run.status, run.waiting_reason) == (RunStatus.WAITING, WaitingReason.IN_DOUBT)
    assert step.status == StepStatus.IN_DOUBT and step.finished_at is None
    assert step.error["code"] == "tool_outcome_unknown" and "not sent again" in step.error["message"]
    event = AuditEvent.objects.get(action="tool.in_doubt", target_id=str(run.pk))
    assert event.data == {"tool": "payments.charge", "seq": step.seq, "code": "tool_outcome_unknown"}


def test_the_trace_viewer_says_why_it_is_in_doubt_and_shows_the_attempts(payment_run, advance, client, operator):
    # Given a server that first refuses with 429 (applying nothing), then applies and answers late
    with Payments("429", "slow", delay=1.0) as payments:
        run = advance(payment_run(payments.server.port))
    step = in_doubt(run)
    assert [a["attempt"] for a in step.error["attempts"]] == [1] and "HTTP 429" in step.error["attempts"][0]["error"]

    # When an operator opens the run's trace
    client.force_login(operator)
    html = client.get(reverse("runs:trace", args=[run.pk])).content.decode()

    # Then it says why, lists the earlier attempt, and offers retry, mark done and fail
    assert "got no answer that says whether it was carried out" in html
    assert "Earlier attempts" in html and "HTTP 429" in html
    assert html.count(reverse("runs:resolve", args=[run.pk, step.seq])) == 3
    assert payments.applied == {key(run, step): 1}


def test_a_person_retries_it_and_it_is_sent_once_more(payment_run, advance, operator):
    with Payments("slow") as payments:
        run = advance(payment_run(payments.server.port))
        step = in_doubt(run)

        step_resolve_in_doubt(run=run, seq=step.seq, action="retry", actor=Actor.for_user(operator))
        run = advance(run)

    step.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.output == {"results": [step.output]}
    assert [r.headers["idempotency-key"] for r in payments.server.requests] == [key(run, step)] * 2
    assert step.status == StepStatus.COMPLETED and step.attempt == 2


def test_a_person_marks_it_done_and_the_run_goes_on_with_their_output(payment_run, advance, operator):
    with Payments("slow") as payments:
        run = advance(payment_run(payments.server.port))
        step_resolve_in_doubt(run=run, seq=in_doubt(run).seq, action="mark_done", output={"charged": "by hand"},
                              actor=Actor.for_user(operator))
        run = advance(run)

    assert run.status == RunStatus.SUCCEEDED and run.output == {"results": [{"charged": "by hand"}]}
    assert len(payments.server.requests) == 1


def test_a_person_fails_it_and_the_workflow_is_told(payment_run, advance, operator):
    with Payments("slow") as payments:
        run = advance(payment_run(payments.server.port))
        step_resolve_in_doubt(run=run, seq=in_doubt(run).seq, action="fail", actor=Actor.for_user(operator))
        run = advance(run)

    assert run.status == RunStatus.FAILED and "marked failed" in run.error["message"]
    assert len(payments.server.requests) == 1


def test_a_refused_connection_is_retried_and_the_charge_applied_once(payment_run, advance):
    # Given nothing listening on the tool's port when the run starts; a server takes it a moment later
    port = free_port()
    run = payment_run(port)
    servers = []
    starting = threading.Timer(0.2, lambda: servers.append(Payments(port=port).__enter__()))
    starting.start()
    try:
        # When the run executes
        run = advance(run)
    finally:
        starting.join()
        for server in servers:
            server.__exit__()
    payments, = servers

    # Then the refused attempts were repeated, the charge applied once, and the journal shows them
    step = in_doubt(run)
    assert run.status == RunStatus.SUCCEEDED and step.status == StepStatus.COMPLETED
    assert payments.applied == {key(run, step): 1} and len(payments.server.requests) == 1
    assert "cannot connect" in step.error["retries"][0]["error"]
