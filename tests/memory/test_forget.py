"""Forgetting a user or a thread: none of their words stay in memory items, run steps or blobs."""

import json

import pytest

from agentops.audit.models import AuditEvent
from agentops.audit.services import Actor
from agentops.memory.models import MemoryItem, Thread
from agentops.memory.services import MemoryError, memory_forget, memory_save
from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from runs.engine import execute_run
from runs.models import Blob, Run, Step
from runs.services import run_create
from tests.factories import AgentFactory

SECRET = "Zanzibarian"


@pytest.fixture
def run_for(tenant, settings):
    settings.JOURNAL_BLOB_THRESHOLD = 64  # the conversation's payloads go to blobs
    AgentFactory(tenant=tenant, slug="support")

    def start(user, message: str, thread: str = "") -> Run:
        principal = Principal(tenant=tenant, user=user, membership=Membership.objects.get(user=user, tenant=tenant))
        run, _ = run_create(principal=principal, agent_slug="support", input={"message": message}, thread=thread)
        execute_run(run.pk)
        return run

    return start


def words_anywhere(word: str) -> list[str]:
    """Where `word` is still stored: memory items, runs, steps, blobs."""
    places = [f"item {i.pk}" for i in MemoryItem.objects.all() if word in i.content]
    places += [f"run {r.pk}" for r in Run.objects.all() if word in json.dumps([r.input, r.output, r.input_preview,
                                                                               r.output_preview, r.metadata])]
    places += [f"step {s.pk}" for s in Step.objects.all() if word in json.dumps([s.input, s.output, s.error])]
    places += [f"blob {b.pk}" for b in Blob.objects.all() if word in json.dumps(b.data)]
    places += [f"thread {t.pk}" for t in Thread.objects.all() if word in t.summary + t.title]
    return places


def test_forgetting_a_user_leaves_none_of_their_words_and_keeps_everyone_elses(tenant, member, owner, run_for):
    alice, bob = member("alice"), member("bob")
    run_for(alice, f"My parrot is called {SECRET}, where is order 1042?")
    run_for(bob, "Where is order 1043? My parrot is called Kiwi.")
    memory_save(tenant=tenant, scope="user", subject="alice", kind="fact", content=f"Parrot named {SECRET}.")
    memory_save(tenant=tenant, scope="user", subject="bob", kind="fact", content="Parrot named Kiwi.")
    assert len(words_anywhere(SECRET)) >= 4 and any(p.startswith("blob") for p in words_anywhere(SECRET))

    counts = memory_forget(tenant=tenant, scope="user", subject="alice", actor=Actor.for_user(owner))

    assert words_anywhere(SECRET) == []
    assert words_anywhere("Kiwi") != []
    assert counts["memory_items"] == 1 and counts["runs"] == 1 and counts["steps"] > 0 and counts["blobs"] > 0
    event = AuditEvent.objects.get(action="memory.forgotten")
    assert event.data == {"user": "alice", **counts}
    assert SECRET not in json.dumps([e.data for e in AuditEvent.objects.all()])


def test_forgetting_a_thread_erases_its_runs_and_the_items_they_wrote(tenant, member, owner, run_for):
    alice = member("alice")
    in_thread = run_for(alice, f"Ship it to {SECRET} please, order 1042", thread="t-1")
    Thread.objects.update_or_create(tenant=tenant, external_id="t-1", defaults={"summary": f"Ships to {SECRET}."})
    run_for(alice, "Where is order 1043? Kiwi asks.", thread="t-2")
    memory_save(tenant=tenant, scope="user", subject="alice", kind="fact", content=f"Ships to {SECRET}.",
                source_run=in_thread.pk, source_step=1)
    kept = memory_save(tenant=tenant, scope="user", subject="alice", kind="fact", content="Likes Kiwi.")

    counts = memory_forget(tenant=tenant, thread="t-1", actor=Actor.for_user(owner))

    assert words_anywhere(SECRET) == []
    assert list(MemoryItem.objects.all()) == [kept]
    assert counts["runs"] == 1 and counts["memory_items"] == 1 and counts["thread_summaries"] == 1
    assert Thread.objects.filter(external_id="t-1").exists()  # the thread stays, without its words


def test_forgetting_another_tenants_user_erases_nothing_here(tenant, other_tenant, member, owner, run_for):
    alice = member("alice")
    run_for(alice, f"My parrot is called {SECRET}, order 1042")

    counts = memory_forget(tenant=other_tenant, scope="user", subject="alice", actor=Actor.for_user(owner))

    assert set(counts.values()) == {0} and {"runs", "steps", "memory_items", "approval_requests"} <= set(counts)
    assert words_anywhere(SECRET) != []


def test_forget_needs_a_user_or_a_thread(tenant, owner):
    with pytest.raises(MemoryError) as refused:
        memory_forget(tenant=tenant, scope="agent", subject="support", actor=Actor.for_user(owner))
    assert refused.value.code == "invalid_forget"
