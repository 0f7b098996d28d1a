"""The trace viewer in a real browser: a run's steps appear while the page is open, without reload.

- embedded shape: a real django-q2 worker executes the run; the page's polling follows the journal;
- scaled-out shape: the ASGI server and Redis; a push ping brings a new step before any poll would;
- and the screenshots the README shows (docs/screenshots/trace.png, runs.png).
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from approvals.models import ApprovalRequest, ApprovalStatus
from runs import live
from runs.models import Run, RunStatus, StepKind, WaitingReason
from runs.services import run_create
from tests.factories import AgentFactory
from tests.support.runs_journal import add_model_call, add_step, add_tool_call, blob, make_run, reply
from tests.support.workers import running_worker

pytest_plugins = ["tests.support.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAME_DOCUMENT = "window.__sameDocument === true"  # survives only if the page never reloads


def rows(page, run) -> int:
    return page.locator(f"#steps-{run.pk} details.step").count()


def wait_for_rows(page, run, count: int, timeout: float = 30_000) -> None:
    page.wait_for_function(
        f"document.querySelectorAll('#steps-{run.pk} details.step').length >= {count}", timeout=timeout
    )


@pytest.mark.slow
def test_steps_written_by_a_worker_appear_without_reload(logged_in_page, operator, tenant, tmp_path):
    AgentFactory(tenant=tenant, slug="effects", version__workflow="test_effects")
    principal = Principal(tenant=tenant, user=operator, membership=Membership.objects.get(user=operator))
    run, _ = run_create(principal=principal, agent_slug="effects",
                        input={"steps": 6, "effects": str(tmp_path / "effects.txt"), "pause": 0.5})
    page = logged_in_page("olivia", "pw")
    page.goto(f"/runs/{run.pk}/")
    page.evaluate("window.__sameDocument = true")
    assert rows(page, run) == 0 and page.locator(".steps-tail[data-live]").count() == 1

    with running_worker() as worker:
        wait_for_rows(page, run, 2)
        assert rows(page, run) < 6, "the steps should arrive while the run is still going"
        try:
            page.wait_for_selector("#run-header .badge.status-succeeded", timeout=60_000)
        except Exception as error:
            raise AssertionError(f"the run did not finish:\n{worker.output()}") from error

    wait_for_rows(page, run, 6)
    assert rows(page, run) == 6
    assert page.evaluate(SAME_DOCUMENT)
    assert page.locator(".steps-tail[data-live]").count() == 0  # finished: polling stopped
    assert page.locator("#run-io summary", has_text="Output").count() == 1  # the output arrived too


def test_a_push_ping_brings_a_new_step_before_any_poll(logged_in_page, asgi_server, operator, agent):
    run = make_run(agent, status=RunStatus.RUNNING)
    add_step(run, 1, name="plan")
    page = logged_in_page("olivia", "pw", base_url=asgi_server)
    page.goto(f"/runs/{run.pk}/")
    page.evaluate("window.__sameDocument = true")
    page.wait_for_function("window.agentopsPollFast && agentopsPollFast() === false")  # socket open
    page.wait_for_timeout(300)  # let the catch-up that follows the socket's opening settle
    catch_ups = []
    page.on("request", lambda request: "/steps/?" in request.url and catch_ups.append(request.url))

    add_step(run, 2, name="search")
    live.notify_run_changed(run.pk, 2)
    wait_for_rows(page, run, 2, timeout=4_000)  # the fallback poll is 10 s away: only the ping can do this

    assert len(catch_ups) == 1 and "after=1" in catch_ups[0]
    run.status, run.finished_at = RunStatus.SUCCEEDED, timezone.now()
    run.save(update_fields=["status", "finished_at"])
    live.notify_run_changed(run.pk, 2)
    page.wait_for_selector("#run-header .badge.status-succeeded", timeout=4_000)
    assert page.evaluate(SAME_DOCUMENT) and rows(page, run) == 2


# -- screenshots ---------------------------------------------------------------------------------


def support_run(agent, operator, approver):
    """A finished support run with every kind of step: model calls, tools, an approval, a child run."""
    start = timezone.now() - dt.timedelta(minutes=3)
    run = make_run(agent, status=RunStatus.SUCCEEDED, created_by=operator, started_at=start,
                   finished_at=start + dt.timedelta(seconds=21.4), step_count=8, tokens_in=3680, tokens_out=292,
                   cost=Decimal("0.000727"), input={"message": "Where is order 1042? If it is lost, refund me."},
                   output={"answer": "Order 1042 was lost in transit. I refunded $42.00 (refund re_8831); "
                                     "you will see it within 5 business days.", "tool_calls": 3})

    def at(seconds):
        return start + dt.timedelta(seconds=seconds)

    tools = blob([{"name": n, "description": d, "parameters": {"type": "object"}} for n, d in (
        ("lookup_order", "Find an order by number"), ("refund_order", "Refund an order (needs approval)"))])
    system = {"role": "system", "content": "You are the support agent of Acme Inc. Look things up before you answer."}
    question = {"role": "user", "content": run.input["message"]}
    add_step(run, 1, name="tools", started_at=at(0), duration_ms=12, output=["lookup_order", "refund_order"])
    add_model_call(run, 2, [system, question], tools=tools, started_at=at(0.05), duration_ms=1350,
                   response=reply("Let me look up the order.", [("lookup_order", {"order": 1042})], tokens=(812, 41)))
    add_tool_call(run, 3, "lookup_order", {"order": 1042},
                  {"order": 1042, "status": "lost_in_transit", "total": "42.00"},
                  started_at=at(1.45), duration_ms=240)
    add_model_call(run, 4, [{"role": "tool", "tool_call_id": "call_lookup_order",
                             "content": '{"order": 1042, "status": "lost_in_transit", "total": "42.00"}'}],
                   previous=2, tools=tools, started_at=at(1.75), duration_ms=1620,
                   response=reply("The parcel is lost: I will refund it.",
                                  [("refund_order", {"order": 1042, "amount": "42.00"})],
                                  tokens=(1044, 58)))
    add_step(run, 5, kind=StepKind.APPROVAL, name="refund_order", started_at=at(3.4), duration_ms=12_600,
             input={"arguments": {"order": 1042, "amount": "42.00"}, "reason": "refunds over $20", "risk": "medium"},
             output={"approved": True, "arguments": {"order": 1042, "amount": "42.00"}, "comment": "OK, lost parcel",
                     "decided_by": approver.get_username(), "status": "approved"})
    ApprovalRequest.objects.create(tenant=run.tenant, run=run, agent_id=run.agent_id, step_seq=5,
                                   title="Support wants to call refund_order", status=ApprovalStatus.APPROVED,
                                   proposed_hash="-", tool_name="refund_order")
    add_tool_call(run, 6, "refund_order", {"order": 1042, "amount": "42.00"}, {"refund": "re_8831", "amount": "42.00"},
                  started_at=at(16.1), duration_ms=410)
    notifier = AgentFactory(tenant=run.tenant, slug="notifier")
    child = make_run(notifier, status=RunStatus.SUCCEEDED, parent=run, parent_step_seq=7, created_by=operator,
                     started_at=at(16.6),
                     finished_at=at(19.2), step_count=2, tokens_in=950, tokens_out=120, cost=Decimal("0.000215"),
                     input={"customer": "c_77", "template": "refund_issued"}, output={"sent": True})
    add_model_call(child, 1, [{"role": "user", "content": "Write the refund e-mail for c_77."}], started_at=at(16.7),
                   duration_ms=1900, response=reply("Drafted.", tokens=(950, 120)))
    add_step(child, 2, name="send_email", started_at=at(18.7), duration_ms=420, output={"sent": True})
    add_step(run, 7, kind=StepKind.CHILD, name="notifier", started_at=at(16.55), duration_ms=2700,
             input=child.input, output={"child_run": str(child.pk), "output": {"sent": True}})
    add_model_call(run, 8, [{"role": "tool", "tool_call_id": "call_refund_order",
                             "content": '{"refund": "re_8831", "amount": "42.00"}'}],
                   previous=4, tools=tools, started_at=at(19.3), duration_ms=2050,
                   response=reply(run.output["answer"], tokens=(1824, 193)))
    Run.objects.filter(pk=run.pk).update(created_at=start)
    Run.objects.filter(pk=child.pk).update(created_at=at(16.55))
    return run


def more_runs(agent, tenant, operator, approver):
    billing = AgentFactory(tenant=tenant, slug="billing")
    now = timezone.now()
    specs = [
        (agent, RunStatus.RUNNING, "", 40, 5, 2210, 180, "0.000441"),
        (billing, RunStatus.WAITING, WaitingReason.APPROVAL, 95, 4, 1804, 96, "0.000328"),
        (agent, RunStatus.FAILED, "", 300, 3, 1210, 0, "0.000182"),
        (billing, RunStatus.SUCCEEDED, "", 620, 6, 3120, 260, "0.000624"),
        (agent, RunStatus.WAITING, WaitingReason.IN_DOUBT, 900, 7, 2890, 301, "0.000614"),
        (agent, RunStatus.CANCELLED, "", 1500, 2, 820, 35, "0.000144"),
        (billing, RunStatus.QUEUED, "", 5, 0, 0, 0, "0"),
    ]
    for number, (which, status, reason, ago, steps, tokens_in, tokens_out, cost) in enumerate(specs):
        started = now - dt.timedelta(seconds=ago)
        finished = status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)
        run = make_run(which, status=status, waiting_reason=reason, created_by=operator if number % 3 else approver,
                       started_at=None if status == RunStatus.QUEUED else started,
                       finished_at=started + dt.timedelta(seconds=4 + number * 3) if finished else None,
                       step_count=steps, tokens_in=tokens_in, tokens_out=tokens_out, cost=Decimal(cost))
        Run.objects.filter(pk=run.pk).update(created_at=started)


def test_screenshots_of_the_runs_list_and_a_trace(logged_in_page, screenshot, operator, approver, agent, tenant):
    more_runs(agent, tenant, operator, approver)
    run = support_run(agent, operator, approver)
    page = logged_in_page("olivia", "pw")

    page.goto("/runs/")
    assert page.locator("#runs-table tbody tr").count() == 9
    screenshot(page, "runs", docs=True)

    page.goto(f"/runs/{run.pk}/")
    page.locator(f"#step-{run.pk}-4 > summary").click()
    page.wait_for_selector(f"#step-{run.pk}-4 .msg.added")  # the rebuilt prompt, loaded on opening
    page.locator(f"#step-{run.pk}-7 > summary").click()
    page.locator(f"#step-{run.pk}-7 .child-timeline").scroll_into_view_if_needed()  # it loads when seen
    page.wait_for_selector(f"#step-{run.pk}-7 .child-timeline details.step")  # the child's own steps
    page.locator("#run-header").scroll_into_view_if_needed()
    assert page.locator(f"#step-{run.pk}-4 .msg").count() == 4  # system, user, reply, the new tool result
    screenshot(page, "trace", docs=True, full_page=True)


def test_runs_filter_swaps_only_the_table(logged_in_page, operator, approver, agent, tenant):
    more_runs(agent, tenant, operator, approver)
    page = logged_in_page("olivia", "pw")
    page.goto("/runs/")
    page.evaluate("window.__sameDocument = true")

    page.select_option("select[name=status]", "failed")
    page.wait_for_function("document.querySelectorAll('#runs-table tbody tr').length === 1")

    assert page.locator("#runs-table .badge").inner_text() == "Failed"
    assert "status=failed" in page.url  # the filtered view can be bookmarked and shared
    assert page.evaluate(SAME_DOCUMENT)
