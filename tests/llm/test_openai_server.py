"""The local test server run as its own process, as the engine's crash tests use it."""

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from agentops.llm.base import ToolSpec
from agentops.llm.openai_provider import OpenAIProvider

ROOT = Path(__file__).resolve().parents[2]
PING = ToolSpec("ping", "Ping.", {"type": "object", "properties": {}})


@pytest.fixture
def server_process(tmp_path):
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([{"content": "scripted first"}]))
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.openai_server", "--port", "0", "--script", str(script)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        yield process.stdout.readline().split()[-1]  # "listening on <base url>"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_separate_process_plays_its_script_then_the_default_policy(server_process):
    provider = OpenAIProvider(api_key="", base_url=server_process)
    messages = [{"role": "user", "content": "Hi"}]

    scripted = provider.complete(model="m", messages=messages, tools=[PING])
    tool_call = provider.complete(model="m", messages=messages, tools=[PING])
    result = {"role": "tool", "tool_call_id": tool_call.tool_calls[0].id, "content": "{}"}
    done = provider.complete(model="m", messages=messages + [tool_call.to_message(), result], tools=[PING])
    recorded = httpx.get(server_process.removesuffix("/v1") + "/_requests").json()

    assert scripted.content == "scripted first"
    assert [(call.name, call.arguments) for call in tool_call.tool_calls] == [("ping", "{}")]
    assert done.content == "done"
    assert len(recorded) == 3
