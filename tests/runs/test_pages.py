"""The runs list and the trace viewer: tenancy, filters, constant queries, live catch-up, actions."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agentops.tenancy.principal import Principal
from agentops.tenancy.roles import Role
from approvals.models import ApprovalRequest
from runs.models import Run, RunStatus, Step, StepKind, StepStatus, WaitingReason
from runs.selectors import run_get_for_user, run_list, step_list
from runs.timeline import TRACE_PAGE_SIZE
from tests.factories import AgentFactory
from tests.support.runs_journal import add_mixed_steps, add_step, add_tool_call, make_run, reply, add_model_call

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, operator):
    client.force_login(operator)
    return client


def principal_of(user, tenant):
    return Principal(tenant=tenant, user=user, membership=user.memberships.get(tenant=tenant))


def step_seqs(html: str) -> list[int]:
    return [int(seq) for seq in re.findall(r'id="step-[0-9a-f-]+-(\d+)"', html)]


# -- tenancy -----------------------------------------------------------------------------------


def test_another_tenants_run_is_not_found(browser, other_tenant):
    foreign = make_run(AgentFactory(tenant=other_tenant))

    assert browser.get(reverse("runs:trace", args=[foreign.pk])).status_code == 404
    assert browser.get(reverse("runs:steps", args=[foreign.pk])).status_code == 404
    assert browser.post(reverse("runs:cancel", args=[foreign.pk])).status_code == 404


def test_selectors_see_only_the_principals_tenant(operator, tenant, other_tenant, agent):
    mine = make_run(agent)
    foreign = make_run(AgentFactory(tenant=other_tenant))
    principal = principal_of(operator, tenant)

    assert list(listed(principal)) == [mine]
    assert run_get_for_user(principal=principal, run_id=foreign.pk) is None
    assert run_get_for_user(principal=principal, run_id="not-a-uuid") is None
    assert run_get_for_user(principal=principal, run_id=mine.pk) == mine


def test_runs_page_lists_only_the_tenants_runs(browser, agent, other_tenant):
    mine = make_run(agent)
    foreign = make_run(AgentFactory(tenant=other_tenant))

    html = browser.get(reverse("runs:list")).content.decode()

    assert str(mine.pk)[:8] in html
    assert str(foreign.pk)[:8] not in html


def test_a_poll_after_the_session_ended_sends_the_browser_to_the_login_form_instead_of_swapping_it_in(
        client, agent):
    run = make_run(agent)
    trace = reverse("runs:trace", args=[run.pk])

    response = client.get(reverse("runs:steps", args=[run.pk]), {"after": 0}, HTTP_HX_REQUEST="true",
                          HTTP_HX_CURRENT_URL=f"http://testserver{trace}")

    assert response.headers["HX-Redirect"] == f"/accounts/login/?next={trace}"
    assert client.get(trace).status_code == 302  # to the login form


def test_user_without_a_tenant_is_refused(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", password="pw"))

    assert client.get(reverse("runs:list")).status_code == 403


# -- runs list ---------------------------------------------------------------------------------


def listed(principal, **filters) -> list[Run]:
    return run_list(principal=principal, **filters).page(size=100).items


def test_run_list_filters_by_agent_status_and_user(operator, member, tenant, agent):
    other_agent = AgentFactory(tenant=tenant, slug="billing")
    alice = member("alice", Role.VIEWER)
    waiting = make_run(agent, status=RunStatus.WAITING, created_by=operator)
    for_alice = make_run(other_agent, status=RunStatus.SUCCEEDED, created_by=operator, on_behalf_of=alice)
    by_alice = make_run(agent, status=RunStatus.FAILED, created_by=alice)
    principal = principal_of(operator, tenant)

    assert set(listed(principal, agent="billing")) == {for_alice}
    assert set(listed(principal, agent=agent)) == {waiting, by_alice}
    assert set(listed(principal, status="waiting")) == {waiting}
    assert set(listed(principal, user=alice)) == {for_alice, by_alice}
    assert set(listed(principal, user=alice.pk, status="failed")) == {by_alice}


def test_run_list_filters_by_inclusive_date_range(operator, tenant, agent):
    today = timezone.localdate()
    old = make_run(agent)
    Run.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=3))
    recent = make_run(agent)
    principal = principal_of(operator, tenant)

    assert list(listed(principal, date_from=today)) == [recent]
    assert list(listed(principal, date_to=today - dt.timedelta(days=3))) == [old]
    assert set(listed(principal, date_from=today - dt.timedelta(days=3), date_to=today)) == {old, recent}


def test_htmx_filter_request_gets_only_the_table(browser, agent):
    make_run(agent, status=RunStatus.FAILED)
    make_run(agent, status=RunStatus.SUCCEEDED)

    response = browser.get(reverse("runs:list"), {"status": "failed"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()

    assert html.lstrip().startswith('<div id="runs-table"')
    assert "<html" not in html
    assert html.count("status-failed") == 1 and "status-succeeded" not in html


def test_runs_page_shows_waiting_reason_tokens_and_cost(browser, agent):
    make_run(agent, status=RunStatus.WAITING, waiting_reason=WaitingReason.APPROVAL, tokens_in=12345,
             tokens_out=678, cost=Decimal("0.0123"), step_count=7)

    html = browser.get(reverse("runs:list")).content.decode()

    assert "Waiting · approval" in html
    assert "12,345 / 678" in html and "$0.0123" in html


def test_unknown_filter_values_are_ignored_not_an_error(browser, agent):
    make_run(agent)

    response = browser.get(reverse("runs:list"), {"agent": "nope", "status": "bogus", "date_from": "yesterday"})

    assert response.status_code == 200
    assert len(response.context["page"].items) == 1


def test_runs_page_reads_the_same_number_of_queries_for_3_and_60_runs(browser, agent):
    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert browser.get(reverse("runs:list")).status_code == 200
        return len(captured)

    for _ in range(3):
        make_run(agent)
    few = queries_for_page()
    for _ in range(57):
        make_run(agent)

    assert queries_for_page() == few


# -- trace viewer ------------------------------------------------------------------------------


def trace_queries(client, run) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("runs:trace", args=[run.pk]))
    assert response.status_code == 200
    return len(captured), response.content.decode()


def test_trace_of_10_and_1000_steps_reads_the_same_number_of_queries(browser, agent):
    small, large = make_run(agent), make_run(agent)
    add_mixed_steps(small, 10)
    add_mixed_steps(large, 1000)

    small_count, _ = trace_queries(browser, small)
    large_count, html = trace_queries(browser, large)
    with CaptureQueriesContext(connection) as small_catch_up:
        browser.get(reverse("runs:steps", args=[small.pk]), {"after": 0, "status": "running"})
    with CaptureQueriesContext(connection) as large_catch_up:
        browser.get(reverse("runs:steps", args=[large.pk]), {"after": 0, "status": "running"})

    assert large_count == small_count
    assert len(large_catch_up) == len(small_catch_up)
    assert step_seqs(html) == list(range(1, TRACE_PAGE_SIZE + 1))  # one page of steps; the rest on request
    assert "Show more steps" not in html  # a running run catches up by itself
    assert 'hx-trigger="load, every 1s' in html


def test_finished_run_offers_the_next_page_of_steps_on_request(browser, agent):
    run = make_run(agent, status=RunStatus.SUCCEEDED, finished_at=timezone.now())
    page = TRACE_PAGE_SIZE
    add_mixed_steps(run, 2 * page + 25)

    first = browser.get(reverse("runs:trace", args=[run.pk])).content.decode()
    steps_url = reverse("runs:steps", args=[run.pk])
    second = browser.get(steps_url, {"after": page, "status": "succeeded"}).content.decode()
    third = browser.get(steps_url, {"after": 2 * page, "status": "succeeded"}).content.decode()

    assert "Show more steps" in first and "every 1s" not in first
    assert [s for s in step_seqs(second) if s > page] == list(range(page + 1, 2 * page + 1))
    assert f"after={2 * page}" in second
    assert step_seqs(third) == list(range(2 * page + 1, 2 * page + 26)) and "Show more steps" not in third


def test_trace_shows_totals_input_output_and_step_details(browser, agent):
    run = make_run(agent, status=RunStatus.SUCCEEDED, finished_at=timezone.now(), tokens_in=1500, tokens_out=300,
                   cost=Decimal("0.000405"), step_count=3, output={"answer": "It shipped on Monday."})
    add_model_call(run, 1, [{"role": "user", "content": "Where is my order 1042?"}],
                   response=reply(None, [("lookup_order", {"order": 1042})]))
    add_tool_call(run, 2, result={"status": "shipped", "on": "Monday"})
    add_model_call(run, 3, [{"role": "tool", "tool_call_id": "call_lookup_order", "content": '{"status": "shipped"}'}],
                   previous=1, response=reply("It shipped on Monday."))

    html = browser.get(reverse("runs:trace", args=[run.pk])).content.decode()

    assert "Where is my order 1042?" in html and "It shipped on Monday." in html
    assert "1,500" in html and "$0.000405" in html
    assert "&quot;order&quot;: 1042" in html  # tool-call arguments, pretty-printed
    assert "&quot;on&quot;: &quot;Monday&quot;" in html  # the tool's result
    assert "$0.15 in" in html  # the price the cost was computed with
    assert reverse("runs:prompt", args=[run.pk, 3]) in html


def test_step_rows_are_placed_on_the_runs_time_scale(browser, agent):
    start = timezone.now() - dt.timedelta(seconds=10)
    run = make_run(agent, status=RunStatus.SUCCEEDED, started_at=start, finished_at=start + dt.timedelta(seconds=10))
    add_step(run, 1, started_at=start + dt.timedelta(seconds=2), duration_ms=5000)

    html = browser.get(reverse("runs:trace", args=[run.pk])).content.decode()

    assert f"#timeline-{run.pk} {{ --span: 10000; }}" in html
    assert 'style="--t0: 2000; --dur: 5000"' in html


def test_child_step_links_the_child_run_and_embeds_its_steps(browser, agent, tenant):
    helper = AgentFactory(tenant=tenant, slug="researcher")
    parent = make_run(agent, status=RunStatus.WAITING, waiting_reason=WaitingReason.CHILD)
    child = make_run(helper, parent=parent, parent_step_seq=1, step_count=1)
    add_step(parent, 1, kind=StepKind.CHILD, name="researcher", status=StepStatus.WAITING,
             input={"question": "?"}, output={"child_run": str(child.pk)})
    add_step(child, 1, name="search")

    page = browser.get(reverse("runs:trace", args=[parent.pk])).content.decode()
    embedded = browser.get(reverse("runs:timeline", args=[child.pk])).content.decode()

    assert reverse("runs:trace", args=[child.pk]) in page
    assert "waits for child run" in page
    assert reverse("runs:timeline", args=[child.pk]) in page
    assert f'id="step-{child.pk}-1"' in embedded and "every 1s" not in embedded


def test_waiting_for_approval_links_to_the_pending_request(browser, agent, tenant):
    run = make_run(agent, status=RunStatus.WAITING, waiting_reason=WaitingReason.APPROVAL)
    add_step(run, 1, kind=StepKind.APPROVAL, name="refund", status=StepStatus.WAITING,
             input={"arguments": {"amount": 20}})
    request = ApprovalRequest.objects.create(tenant=tenant, run=run, agent_id=run.agent_id, step_seq=1,
                                             title="Refund $20", proposed_hash="x")

    html = browser.get(reverse("runs:trace", args=[run.pk])).content.decode()

    assert f'href="/inbox/{request.pk}/"' in html
    assert "waits for approval" in html and "Refund $20" in html


def test_failed_model_step_shows_its_error_and_retries(browser, agent):
    run = make_run(agent, status=RunStatus.FAILED, finished_at=timezone.now(),
                   error={"code": "model_error", "message": "the model call failed: rate limited"})
    add_step(run, 1, kind=StepKind.LLM, name="gpt-4o-mini", status=StepStatus.FAILED, attempt=3,
             input={"conversation": "main", "previous": None, "messages": [], "tools": []},
             error={"code": "model_error", "message": "rate limited", "attempts": [
                 {"attempt": 1, "error": "429 slow down", "delay": 1.0},
                 {"attempt": 2, "error": "429 slow down", "delay": 2.0}]})

    html = browser.get(reverse("runs:trace", args=[run.pk])).content.decode()

    assert "the model call failed: rate limited" in html
    assert "attempt 1: 429 slow down" in html and "×3" in html


# -- live catch-up -----------------------------------------------------------------------------


def test_steps_after_returns_only_newer_steps(browser, agent):
    run = make_run(agent)
    add_mixed_steps(run, 5)

    html = browser.get(reverse("runs:steps", args=[run.pk]), {"after": 3, "status": "running"}).content.decode()

    assert step_seqs(html) == [4, 5]
    assert "after=5" in html  # the next request continues from the last step sent


def test_steps_after_the_last_step_sends_no_rows_but_the_header_and_tail(browser, agent):
    run = make_run(agent)
    add_mixed_steps(run, 5)

    html = browser.get(reverse("runs:steps", args=[run.pk]), {"after": 5, "status": "running"}).content.decode()

    assert step_seqs(html) == []
    assert 'id="run-header" class="run-header" hx-swap-oob="true"' in html
    assert 'id="steps-tail-' in html and "after=5" in html


def test_pending_step_that_changed_is_sent_again_out_of_band(browser, agent):
    run = make_run(agent)
    step = add_tool_call(run, 1, status=StepStatus.STARTED)
    first = browser.get(reverse("runs:trace", args=[run.pk])).content.decode()
    assert "pending=1%3Astarted%3A1" in first

    unchanged = browser.get(reverse("runs:steps", args=[run.pk]),
                            {"after": 1, "pending": "1:started:1", "status": "running"}).content.decode()
    Step.objects.filter(pk=step.pk).update(status=StepStatus.COMPLETED, output={"ok": True},
                                           finished_at=timezone.now())
    changed = browser.get(reverse("runs:steps", args=[run.pk]),
                          {"after": 1, "pending": "1:started:1", "status": "running"}).content.decode()

    assert step_seqs(unchanged) == []
    assert f'id="step-{run.pk}-1" hx-swap-oob="true"' in changed
    assert "pending=" not in changed  # settled: no longer asked for


def test_finished_run_stops_polling_and_sends_its_output(browser, agent):
    run = make_run(agent, status=RunStatus.SUCCEEDED, finished_at=timezone.now(), output={"answer": "done"})

    html = browser.get(reverse("runs:steps", args=[run.pk]), {"after": 0, "status": "running"}).content.decode()

    assert 'id="run-io" class="run-io" hx-swap-oob="true"' in html
    assert "every 1s" not in html and "data-live" not in html


def test_step_list_reads_one_query(agent, django_assert_num_queries):
    run = make_run(agent)
    add_mixed_steps(run, 30)

    with django_assert_num_queries(1):
        steps = step_list(run=run, after_seq=10, limit=5, also_seqs=[2, 3])

    assert [s.seq for s in steps] == [2, 3, 11, 12, 13, 14, 15]


# -- actions -----------------------------------------------------------------------------------


def test_viewer_cannot_cancel_a_run(client, member, agent):
    client.force_login(member("vera", Role.VIEWER))
    run = make_run(agent, status=RunStatus.QUEUED)

    response = client.post(reverse("runs:cancel", args=[run.pk]))

    assert response.status_code == 403
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and not run.cancel_requested


def test_viewer_sees_no_action_buttons(client, member, agent):
    client.force_login(member("vera", Role.VIEWER))
    run = make_run(agent, status=RunStatus.RUNNING)

    html = client.get(reverse("runs:trace", args=[run.pk])).content.decode()

    assert "Cancel run" not in html


def test_operator_cancels_a_waiting_run(browser, agent):
    run = make_run(agent, status=RunStatus.WAITING, waiting_reason=WaitingReason.TIMER)

    response = browser.post(reverse("runs:cancel", args=[run.pk]), follow=True)

    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert "Cancellation requested." in response.content.decode()


def test_cancelling_a_finished_run_shows_why_it_cannot(browser, agent):
    run = make_run(agent, status=RunStatus.SUCCEEDED, finished_at=timezone.now())

    response = browser.post(reverse("runs:cancel", args=[run.pk]), follow=True)

    assert response.status_code == 200
    assert "has already ended" in response.content.decode()
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED


def test_approver_cannot_retry_a_failed_run(client, approver, agent):
    client.force_login(approver)
    run = make_run(agent, status=RunStatus.FAILED, finished_at=timezone.now())

    assert client.post(reverse("runs:retry", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED


def test_operator_retries_a_failed_run(browser, agent, django_capture_on_commit_callbacks):
    run = make_run(agent, status=RunStatus.FAILED, finished_at=timezone.now(), error={"code": "x", "message": "boom"})

    with django_capture_on_commit_callbacks(execute=False):
        browser.post(reverse("runs:retry", args=[run.pk]))

    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED


@pytest.fixture
def in_doubt_run(agent):
    run = make_run(agent, status=RunStatus.WAITING, waiting_reason=WaitingReason.IN_DOUBT)
    add_tool_call(run, 1, name="send_refund", status=StepStatus.IN_DOUBT,
                  error={"code": "in_doubt", "message": "the worker stopped while send_refund was running"})
    return run


def test_in_doubt_step_offers_retry_mark_done_and_fail(browser, in_doubt_run):
    html = browser.get(reverse("runs:trace", args=[in_doubt_run.pk])).content.decode()

    assert html.count(reverse("runs:resolve", args=[in_doubt_run.pk, 1])) == 3
    assert 'name="output"' in html
    assert f'href="#step-{in_doubt_run.pk}-1"' in html  # the header points at the step


def test_mark_done_records_the_given_output(browser, in_doubt_run, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        browser.post(reverse("runs:resolve", args=[in_doubt_run.pk, 1]),
                     {"action": "mark_done", "output": '{"refund": "r_123"}'})

    step = Step.objects.get(run=in_doubt_run, seq=1)
    assert step.status == StepStatus.COMPLETED and step.output == {"refund": "r_123"}


def test_mark_done_with_invalid_json_changes_nothing(browser, in_doubt_run):
    response = browser.post(reverse("runs:resolve", args=[in_doubt_run.pk, 1]),
                            {"action": "mark_done", "output": "{not json"}, follow=True)

    assert "The output is not valid JSON" in response.content.decode()
    assert Step.objects.get(run=in_doubt_run, seq=1).status == StepStatus.IN_DOUBT


def test_approver_cannot_resolve_an_in_doubt_step(client, approver, in_doubt_run):
    client.force_login(approver)

    response = client.post(reverse("runs:resolve", args=[in_doubt_run.pk, 1]), {"action": "fail"})

    assert response.status_code == 403
    assert Step.objects.get(run=in_doubt_run, seq=1).status == StepStatus.IN_DOUBT


def test_actions_need_post(browser, agent):
    run = make_run(agent)

    assert browser.get(reverse("runs:cancel", args=[run.pk])).status_code == 405
