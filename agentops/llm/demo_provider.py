"""An offline, deterministic model that behaves like a small, careful agent.

It needs no network and no key, so the embedded default works out of the box. For the latest
user message it:

1. picks the offered tools relevant to the message: word overlap between the message and the
   tool's name (counts double), description and property names, at least `RELEVANCE_THRESHOLD`.
   A tool whose name holds an action verb ("refund_order", "send_email") is relevant only if the
   user used that verb: the agent looks things up freely but takes only actions it was asked for;
2. fills their arguments from the JSON Schema (see `demo_arguments`) and calls the relevant tools
   it can fill, skipping those with a required argument it cannot fill. It looks before it acts:
   while a relevant lookup is still to be made, actions wait for the next round;
3. after the results come back, calls the relevant tools that were not called yet and can now
   be filled (look an order up, then refund the amount found), for at most `MAX_TOOL_ROUNDS` rounds;
4. answers in plain English from the tool results, errors included, or directly from the
   message when no tool applies, adding what it remembers of the user (the recalled memory block).

It also answers the engine's requests to summarise a thread and to pick out what to remember
(see demo_memory).

The same conversation and tools always give the same response.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from . import demo_text as text
from .base import LLMResponse, Provider, ToolCall, ToolSpec, Usage, estimate_tokens
from .demo_arguments import fill_arguments
from .demo_memory import memory_answer, preference_noted, remembered, with_memory

MODEL = "demo"
RELEVANCE_THRESHOLD = 2
MAX_TOOL_ROUNDS = 3
ACTION_VERBS = text.words(
    "add approve assign book cancel charge close create delete disable enable escalate grant issue "
    "modify pay post publish refund reject remove reset revoke schedule send submit transfer update write"
)
GREETINGS = text.words("hi hello hey thanks thank good morning afternoon evening")


@dataclass
class ToolResult:
    name: str
    data: object
    error: str | None


@dataclass
class Conversation:
    """The conversation as the demo agent reads it: the latest request and what happened since."""

    request: str = ""
    rounds: int = 0
    called: set[str] = field(default_factory=set)
    results: list[ToolResult] = field(default_factory=list)  # since the latest request
    earlier: list[ToolResult] = field(default_factory=list)  # before it
    assistant_messages: int = 0


class DemoProvider(Provider):
    name = "demo"

    def complete(self, *, model, messages, tools, temperature=None, timeout=60.0, on_delta=None) -> LLMResponse:
        answer = memory_answer(messages)
        if answer is not None:
            return _streamed_answer(answer, messages, tools, on_delta)
        conversation = read_conversation(messages)
        calls = plan_calls(conversation, tools) if conversation.rounds < MAX_TOOL_ROUNDS else []
        if calls:
            tool_calls = tuple(
                ToolCall(id=f"call_{conversation.assistant_messages}_{i}", name=name, arguments=json.dumps(args))
                for i, (name, args) in enumerate(calls)
            )
            return _response(None, tool_calls, messages, tools)
        answer = with_memory(write_answer(conversation), remembered(messages))
        return _streamed_answer(answer, messages, tools, on_delta)


def _streamed_answer(answer: str, messages, tools, on_delta) -> LLMResponse:
    if on_delta is not None:
        for chunk in text_chunks(answer):
            on_delta(chunk)
    return _response(answer, (), messages, tools)


def text_chunks(answer: str) -> list[str]:
    """The answer a word at a time (each with the space before it), as a streaming model sends it."""
    return re.findall(r"\s*\S+(?:\s+$)?", answer) or [answer]


def read_conversation(messages: list[dict]) -> Conversation:
    conversation = Conversation()
    names: dict[str, str] = {}  # tool call id -> tool name
    for message in messages:
        role = message.get("role")
        if role == "user":
            conversation.earlier += conversation.results
            conversation.results, conversation.called, conversation.rounds = [], set(), 0
            conversation.request = _text_of(message.get("content"))
        elif role == "assistant":
            conversation.assistant_messages += 1
            calls = message.get("tool_calls") or []
            conversation.rounds += 1 if calls else 0
            for call in calls:
                names[call.get("id")] = call["function"]["name"]
                conversation.called.add(call["function"]["name"])
        elif role == "tool":
            name = names.get(message.get("tool_call_id"), "tool")
            conversation.results.append(_tool_result(name, _text_of(message.get("content"))))
    return conversation


def plan_calls(conversation: Conversation, tools: list[ToolSpec]) -> list[tuple[str, dict]]:
    """The relevant, not yet called tools whose arguments can be filled, best match first;
    only the lookups among them if there are any."""
    fresh, earlier = _known_values(conversation.results), _known_values(conversation.earlier)
    lookups, actions = [], []
    for tool in relevant_tools(conversation.request, tools):
        if tool.name in conversation.called:
            continue
        arguments = fill_arguments(tool.parameters or {}, conversation.request, fresh, earlier)
        if arguments is not None:
            (actions if is_action(tool) else lookups).append((tool.name, arguments))
    return lookups or actions


def relevant_tools(request: str, tools: list[ToolSpec]) -> list[ToolSpec]:
    said = text.words(request)
    scored = [(relevance(said, tool), index, tool) for index, tool in enumerate(tools)]
    return [tool for score, _, tool in sorted(scored, key=lambda s: (-s[0], s[1])) if score >= RELEVANCE_THRESHOLD]


def is_action(tool: ToolSpec) -> bool:
    return bool(text.words(tool.name) & ACTION_VERBS)


def relevance(said: set[str], tool: ToolSpec) -> int:
    name = text.words(tool.name)
    verbs = name & ACTION_VERBS
    if verbs and not verbs & said:
        return 0
    properties = " ".join((tool.parameters or {}).get("properties") or {})
    other = text.words(tool.description) | text.words(properties)
    return 2 * len(said & name) + len(said & (other - name))


def write_answer(conversation: Conversation) -> str:
    if not conversation.results:
        return _direct_answer(conversation.request)
    failed = [result for result in conversation.results if result.error]
    if not failed:
        intro = "Here is what I found:"
    elif len(failed) < len(conversation.results):
        intro = "I could only partly complete your request:"
    else:
        intro = "I could not complete your request:"
    return "\n".join([intro] + [f"- {_describe(result)}" for result in conversation.results])


def _direct_answer(request: str) -> str:
    said = text.words(request)
    if not said or said <= GREETINGS:
        return "Hello! How can I help you today?"
    noted = preference_noted(request)
    if noted:
        return noted
    return (
        f'I am the offline demo model and none of my tools fits your request ("{text.first_sentence(request, 200)}"), '
        "so I cannot answer it properly. Connect a real model for a full answer."
    )


def _describe(result: ToolResult) -> str:
    label = result.name.replace("__", ".")  # tools reach models as "kb__search"; people know "kb.search"
    if result.error:
        return f"{label} failed: {result.error.rstrip('.')}."
    found = _main_list(result.data)
    if found is not None:
        if not found:
            return f"{label} found nothing."
        lines = [f"{label} found {len(found)}:"] + [f"  - {_headline(item)}" for item in found[:3]]
        return "\n".join(lines + (["  - …"] if len(found) > 3 else []))
    return f"{label}: {_summarise(result.data)}."


SEARCH_KEYS = ("results", "hits", "matches", "documents", "articles", "records", "rows")


def _main_list(data) -> list | None:
    """The records of a search-like result (a list, or {"results": [...]}); None for one record,
    such as an order whose `items` are part of it."""
    if isinstance(data, list) and all(isinstance(item, dict) for item in data):
        return data
    if isinstance(data, dict):
        for key in SEARCH_KEYS:
            if isinstance(data.get(key), list) and all(isinstance(i, dict) for i in data[key]):
                return data[key]
    return None


def _headline(item: dict) -> str:
    """ "Title — the first words of its snippet" for a record of a search-like result."""
    title = _label(item)
    for key in ("snippet", "summary", "description", "text", "body"):
        if isinstance(item.get(key), str) and item[key].strip():
            return f"{title} — {text.first_sentence(item[key], 160)}"
    return title


def _summarise(data, limit: int = 8) -> str:
    if isinstance(data, dict):
        pairs = [f"{key.replace('_', ' ')} {_scalar(value)}" for key, value in data.items()]
        more = f", and {len(pairs) - limit} more" if len(pairs) > limit else ""
        return ", ".join(pairs[:limit]) + more if pairs else "nothing returned"
    if isinstance(data, list):
        if not data:
            return "no results"
        shown = "; ".join(_label(item) for item in data[:3])
        return f"{len(data)} result{'s' if len(data) != 1 else ''}: {shown}" + ("; …" if len(data) > 3 else "")
    return _scalar(data)


def _scalar(value) -> str:
    if isinstance(value, dict):
        return f"({_summarise(value, limit=3)})"
    if isinstance(value, list):
        return f"({len(value)} item{'s' if len(value) != 1 else ''})"
    if isinstance(value, bool):
        return "yes" if value else "no"
    value = "none" if value is None else str(value)
    return value if len(value) <= 200 else value[:199] + "…"


def _label(item) -> str:
    if isinstance(item, dict):
        for key in ("title", "name", "id"):
            if key in item:
                return _scalar(item[key])
        return _summarise(item, limit=3)
    return _scalar(item)


def _tool_result(name: str, content: str) -> ToolResult:
    try:
        data = json.loads(content)
    except ValueError:
        return ToolResult(name, content, None)
    return ToolResult(name, data, _error_of(data))


def _error_of(data) -> str | None:
    if not isinstance(data, dict) or not data.get("error"):
        return None
    error = data["error"]
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or json.dumps(error))
    return str(error)


def _known_values(results: list[ToolResult]) -> dict:
    """Keys and values of successful results, latest result first, nested objects flattened."""
    known: dict = {}
    for result in reversed(results):
        if not result.error and isinstance(result.data, dict):
            _collect(result.data, known)
    return known


def _collect(data: dict, known: dict) -> None:
    for key, value in data.items():
        known.setdefault(key, value)
    for value in data.values():
        if isinstance(value, list) and len(value) == 1:
            value = value[0]  # a single record, such as the one row a SQL lookup found
        if isinstance(value, dict):
            _collect(value, known)


def _text_of(content) -> str:
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ("" if content is None else json.dumps(content))


def _response(content, tool_calls, messages, tools) -> LLMResponse:
    prompt = json.dumps(messages, sort_keys=True, default=str) + json.dumps([t.to_openai() for t in tools])
    output = content or json.dumps([[call.name, call.arguments] for call in tool_calls])
    return LLMResponse(
        content=content,
        tool_calls=tool_calls,
        usage=Usage(input_tokens=estimate_tokens(prompt), output_tokens=estimate_tokens(output)),
        model=MODEL,
        finish_reason="tool_calls" if tool_calls else "stop",
    )
