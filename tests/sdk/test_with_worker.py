"""Runs executed by a real worker process, followed through the SDK: create and wait, an approval
decided over the API that resumes the run, the async client on the same path."""

import asyncio
import time

import pytest
from agentops_client import AgentOps, Run

from runs.models import Run as RunRow
from runs.models import RunStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_run_created_through_the_sdk_is_executed_by_the_worker_and_waited_for(sdk, helper, worker):
    client = sdk()

    run = client.runs.create(agent="helper", message="Hello there", metadata={"ticket": "T-1"})
    done = client.runs.wait(run.id, timeout=60, poll_interval=0.2)

    assert isinstance(run, Run) and run.status == "queued" and run.metadata == {"ticket": "T-1"}
    assert done.id == run.id and done.status == "succeeded" and done.ended, worker.output()
    assert done.output and RunRow.objects.get(pk=run.id).status == RunStatus.SUCCEEDED


def test_an_approval_decided_through_the_sdk_resumes_the_run(sdk, gatekeeper, approver_key, worker):
    client, approvals = sdk(), sdk(key=approver_key).approvals
    run = client.runs.create(agent="gatekeeper", input={"arguments": {"amount": 80}})

    waiting = wait_until(client, run.id, lambda seen: seen.status == "waiting")
    [request] = [item for item in approvals.list(status="pending") if item.run == run.id]
    decided = approvals.approve(request.id, seen_hash=request.seen_hash, arguments={"amount": 60}, comment="ok")
    done = client.runs.wait(run.id, timeout=60, poll_interval=0.2)

    assert waiting.waiting_reason == "approval" and request.proposed_arguments == {"amount": 80}
    assert approvals.get(request.id).status == decided.status == "approved"
    assert done.status == "succeeded", worker.output()
    assert done.output == {"approved": True, "arguments": {"amount": 60}, "comment": "ok"}


def test_a_rejection_through_the_sdk_reaches_the_workflow(sdk, gatekeeper, approver_key, worker):
    client, approvals = sdk(), sdk(key=approver_key).approvals
    run = client.runs.create(agent="gatekeeper", input={})
    wait_until(client, run.id, lambda seen: seen.status == "waiting")
    [request] = list(approvals.list(status="pending"))

    approvals.reject(request.id, seen_hash=request.seen_hash, comment="not today")
    done = client.runs.wait(run.id, timeout=60, poll_interval=0.2)

    assert done.output == {"approved": False, "arguments": None, "comment": "not today"}, worker.output()


def test_the_async_client_creates_waits_and_pages(async_sdk, helper, worker):
    async def scenario():
        async with async_sdk() as client:
            run = await client.runs.create(agent="helper", message="async hello")
            done = await client.runs.wait(run.id, timeout=60, poll_interval=0.2)
            listed = [item.id async for item in client.runs.list(limit=1)]
            first_page = await client.runs.list(limit=1)
            return run, done, listed, first_page

    run, done, listed, first_page = asyncio.run(scenario())

    assert done.id == run.id and done.status == "succeeded", worker.output()
    assert listed == [run.id] and [item.id for item in first_page.data] == [run.id]


def wait_until(client: AgentOps, run_id: str, condition, timeout: float = 60) -> Run:
    deadline = time.monotonic() + timeout
    while not condition(run := client.runs.get(run_id)):
        assert time.monotonic() < deadline, f"run {run_id} is still {run.status}"
        time.sleep(0.2)
    return run
