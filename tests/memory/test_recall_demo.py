"""The demo, offline: a preference stated in one run of a thread is remembered in the next run of
the thread and in a later thread, and never in another user's run."""

import pytest

from agentops.memory.models import MemoryItem
from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from demo.seed import MEMORY_THREAD, seed_demo, seed_memory_conversation
from runs.engine import execute_run
from runs.models import Run, RunStatus
from runs.services import run_create
from tests.demo.conftest import DEMO_DATABASES

pytestmark = pytest.mark.django_db(databases=DEMO_DATABASES)

REMEMBERED = "What I remember about you: Prefers email for updates."


@pytest.fixture
def demo_conversation():
    """The seeded thread's two runs, executed in turn as the workers would."""
    seed_demo()
    assert seed_memory_conversation()
    first, second = Run.objects.filter(thread=MEMORY_THREAD).order_by("created_at")
    assert second.status == RunStatus.WAITING  # its turn comes when the first ends
    for run in (first, second):
        execute_run(run.pk)
        run.refresh_from_db()
    return first, second


def ask(message: str, thread: str, on_behalf_of: str | None = None) -> Run:
    operator = Membership.objects.select_related("tenant", "user").get(tenant__slug="demo",
                                                                        user__username="operator")
    principal = Principal(tenant=operator.tenant, user=operator.user, membership=operator)
    user = Membership.objects.get(tenant=operator.tenant, user__username=on_behalf_of).user if on_behalf_of else None
    run, _ = run_create(principal=principal, agent_slug="support", input={"message": message}, thread=thread,
                        on_behalf_of=user)
    execute_run(run.pk)
    run.refresh_from_db()
    return run


def test_the_stated_preference_is_extracted_with_its_provenance(demo_conversation):
    first, _ = demo_conversation

    item = MemoryItem.objects.get(subject="operator")
    assert (item.kind, item.content, item.source_run) == ("preference", "Prefers email for updates", first.pk)
    assert first.output["answer"] == "Noted: you prefer email for updates. I will keep it in mind."


def test_the_next_run_of_the_thread_remembers_it(demo_conversation):
    _, second = demo_conversation

    assert second.status == RunStatus.SUCCEEDED
    assert second.output["answer"].startswith("Here is what I found:\n- orders.lookup found 1")
    assert second.output["answer"].endswith(REMEMBERED)
    history = second.steps.get(name="thread.history").output["turns"]
    assert [turn["user"] for turn in history] == ["Hi, I prefer email for updates."]


def test_a_later_thread_remembers_it_too(demo_conversation):
    run = ask("Any news on order #1042? Please keep me updated.", thread="later")

    assert run.output["answer"].endswith(REMEMBERED)


def test_another_user_is_not_told_the_preference(demo_conversation):
    run = ask("Any news on order #1042? Please keep me updated.", thread="adas-thread", on_behalf_of="ada")

    assert "email" not in run.output["answer"]


def test_the_conversation_is_seeded_once(demo_conversation):
    assert seed_memory_conversation() == []
    assert Run.objects.filter(thread=MEMORY_THREAD).count() == 2


def test_the_trace_shows_what_was_recalled(demo_conversation, client):
    _, second = demo_conversation
    client.force_login(Membership.objects.get(tenant__slug="demo", user__username="operator").user)

    page = client.get(f"/runs/{second.pk}/").content.decode()

    assert "Recalled for" in page and "Prefers email for updates" in page
    assert "Thread history" in page
