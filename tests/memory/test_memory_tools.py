"""The built-in tools memory.search and memory.save: through the gateway (permissions, argument
schema, audit), within the memory policy, for the run's own user only."""

import json

import pytest

from agentops.audit.models import AuditEvent
from agentops.memory.models import MemoryItem
from agentops.memory.services import memory_save
from agentops.tenancy.roles import Role
from runs.models import RunStatus, StepKind
from tests.factories import AgentFactory

from .threads_support import execute, model_messages

pytestmark = pytest.mark.django_db

POLICY = {"read": ["user"], "write": ["user"], "recall": 0, "extract": False}


def tool_agent(tenant, memory=POLICY):
    return AgentFactory(tenant=tenant, slug="toolful", version__provider="openai", version__model="gpt-4o-mini",
                        version__tools=["memory.search", "memory.save"], version__memory=memory)


def tool_result(server) -> dict:
    """What the last tool call gave back to the model."""
    return json.loads(next(m for m in model_messages(server.chat_requests[-1]) if m["role"] == "tool")["content"])


def test_memory_save_stores_for_the_runs_user_with_the_tool_step_as_provenance(tenant, operator, say,
                                                                                openai_server):
    openai_server.reply(tool_calls=[{"name": "memory__save",
                                     "arguments": {"content": "Prefers email", "kind": "preference"}}])
    openai_server.reply(content="Saved.")

    run = execute(say(tool_agent(tenant), "Remember that I prefer email", thread=""))

    item = MemoryItem.objects.get()
    tool_step = run.steps.get(kind=StepKind.TOOL)
    assert (item.scope, item.subject, item.kind) == ("user", operator.username, "preference")
    assert (item.source_run, item.source_step) == (run.pk, tool_step.seq)
    assert AuditEvent.objects.filter(action="tool.called", data__tool="memory.save").exists()


def test_memory_search_finds_only_the_runs_users_items(tenant, operator, say, openai_server):
    memory_save(tenant=tenant, scope="user", subject=operator.username, kind="fact", content="Lives in Lisbon")
    memory_save(tenant=tenant, scope="user", subject="someone-else", kind="fact", content="Lives in Lisbon too")
    openai_server.reply(tool_calls=[{"name": "memory__search", "arguments": {"query": "Lisbon"}}])
    openai_server.reply(content="Lisbon.")

    execute(say(tool_agent(tenant), "Where do I live?", thread=""))

    assert tool_result(openai_server)["results"] == [{"content": "Lives in Lisbon", "kind": "fact", "scope": "user"}]


def test_a_scope_the_policy_does_not_write_goes_back_to_the_model_as_an_error(tenant, say, openai_server):
    openai_server.reply(tool_calls=[{"name": "memory__save",
                                     "arguments": {"content": "Everyone prefers email", "scope": "tenant"}}])
    openai_server.reply(content="I could not.")

    run = execute(say(tool_agent(tenant), "Remember it for everyone", thread=""))

    assert run.status == RunStatus.SUCCEEDED and run.tool_errors == 1
    assert "does not allow writing to the tenant scope" in tool_result(openai_server)["message"]
    assert not MemoryItem.objects.exists()


def test_arguments_outside_the_schema_are_refused_before_anything_is_stored(tenant, say, openai_server):
    openai_server.reply(tool_calls=[{"name": "memory__save", "arguments": {"content": "x", "subject": "mallory"}}])
    openai_server.reply(content="No.")

    execute(say(tool_agent(tenant), "Remember this for mallory", thread=""))

    assert tool_result(openai_server)["error"] == "invalid_arguments"
    assert not MemoryItem.objects.exists()


def test_a_user_without_the_right_to_use_tools_is_refused(tenant, member, say, openai_server):
    viewer = member("vic", Role.VIEWER)
    openai_server.reply(tool_calls=[{"name": "memory__save", "arguments": {"content": "Prefers email"}}])
    openai_server.reply(content="No.")

    execute(say(tool_agent(tenant), "Remember that I prefer email", thread="", on_behalf_of=viewer))

    assert tool_result(openai_server)["error"] == "permission_denied"
    assert not MemoryItem.objects.exists()


def test_without_a_read_scope_memory_search_finds_nothing_to_search(tenant, say, openai_server):
    openai_server.reply(tool_calls=[{"name": "memory__search", "arguments": {"query": "anything"}}])
    openai_server.reply(content="Nothing.")

    execute(say(tool_agent(tenant, memory={}), "What do you know?", thread=""))

    assert "lets it read no memory" in tool_result(openai_server)["message"]
