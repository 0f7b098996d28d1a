"""runs.*: list across pages, steps, cancel, idempotent create, against the live server (no worker
here: these runs stay queued unless the test executes them)."""

import uuid

import pytest
from agentops_client import ConflictError, Step

from runs.engine import execute_run
from runs.models import Run as RunRow
from runs.models import RunStatus
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_list_follows_the_cursor_over_every_page_newest_first(sdk, helper, start_runs):
    ids = start_runs(5)

    pager = sdk().runs.list(agent="helper", limit=2)

    assert [run.id for run in pager] == ids[::-1]
    assert [len(page.data) for page in pager.pages()] == [2, 2, 1]


def test_list_filters_by_status(sdk, helper, start_runs):
    queued, cancelled = start_runs(2)
    RunRow.objects.filter(pk=cancelled).update(status=RunStatus.CANCELLED)

    assert [run.id for run in sdk().runs.list(status="cancelled")] == [cancelled]


def test_steps_come_in_order_a_page_at_a_time_from_after(sdk, tenant, start_runs, tmp_path):
    AgentFactory(tenant=tenant, slug="effects", version__workflow="test_effects")
    [run_id] = start_runs(1, agent="effects", input={"steps": 3, "effects": str(tmp_path / "e"), "pause": 0})
    execute_run(run_id)

    pager = sdk().runs.steps(run_id, limit=1)
    later = sdk().runs.steps(run_id, after=1)

    assert [(step.seq, step.name) for step in pager] == [(1, "effect-0"), (2, "effect-1"), (3, "effect-2")]
    assert len(list(pager.pages())) == 3 and all(isinstance(step, Step) for step in pager)
    assert [step.seq for step in later] == [2, 3]


def test_cancel_ends_a_queued_run_and_a_second_cancel_is_a_conflict(sdk, helper, start_runs):
    [run_id] = start_runs(1)
    client = sdk()

    cancelled = client.runs.cancel(run_id)
    with pytest.raises(ConflictError) as refused:
        client.runs.cancel(run_id)

    assert cancelled.status == "cancelled"
    assert refused.value.code == "not_cancellable" and refused.value.status_code == 409


def test_the_same_idempotency_key_returns_the_same_run(sdk, helper):
    client, key = sdk(), f"order-{uuid.uuid4()}"

    first = client.runs.create(agent="helper", message="once", idempotency_key=key)
    again = client.runs.create(agent="helper", message="once", idempotency_key=key)

    assert first.id == again.id and RunRow.objects.count() == 1
