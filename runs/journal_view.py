"""The journal as people read it: payloads with their blobs resolved, and the full prompt of each
model call rebuilt from the delta journal.

A model step stores only the messages added since the previous call of its conversation
(`input = {"conversation", "previous": <seq or None>, "messages": [...], ...}`), and the reply of
that previous call is its `output`. So the prompt of step N is

    prompt(previous) + [reply of previous] + messages(N)

followed back along `previous` links. The trace viewer (when a model step is opened) and the API
(`/api/v1/runs/{id}/steps/{seq}/prompt/`) rebuild it for one step at a time: a page of steps shows
only what each call added, so it grows with the journal rather than with the square of its length.
Everything here reads a fixed number of queries whatever the length of the run: the model steps
in one, their blobs in one (a second only for a step whose whole input is a blob).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.core.serializers.json import DjangoJSONEncoder

from agentops.llm.base import LLMResponse

from .journal import BLOB_KEY, collect_refs, is_blob_ref, load_blobs, resolve
from .models import Run, Step, StepKind

# How much of one payload a page shows; the API returns it whole.
DISPLAY_LIMIT = 100_000


class BlobMap(dict):
    """Loaded blobs by hash. A hash that is not there resolves to a visible marker, not an error:
    a trace page must render even if a blob row went missing."""

    def __missing__(self, key):
        return {BLOB_KEY: key, "missing": True}


def blobs_for(values, blobs: BlobMap | None = None) -> BlobMap:
    """The blobs referenced anywhere in `values`, in one query (added to `blobs` if given).

    The engine never nests blobs inside blobs, but a missing row or an older journal could; a
    payload that still holds references after resolution simply shows them.
    """
    blobs = blobs if blobs is not None else BlobMap()
    hashes: set[str] = set()
    for value in values:
        collect_refs(value, hashes)
    wanted = hashes - set(blobs)
    if wanted:
        blobs.update(load_blobs(wanted))
    return blobs


def resolved(value, blobs: BlobMap):
    return resolve(value, blobs)


def pretty_json(value) -> str:
    """Indented JSON for display, cut at DISPLAY_LIMIT characters."""
    if value is None:
        return ""
    text = json.dumps(value, indent=2, ensure_ascii=False, cls=DjangoJSONEncoder, sort_keys=False)
    if len(text) > DISPLAY_LIMIT:
        return text[:DISPLAY_LIMIT] + f"\n… {len(text) - DISPLAY_LIMIT:,} more characters (the API returns it whole)"
    return text


# -- one page of steps ---------------------------------------------------------------------


@dataclass
class StepView:
    """A step with its payloads resolved, plus what its kind shows in a structured way."""

    step: Step
    input: object
    output: object
    error: object
    messages: list[dict] = field(default_factory=list)  # model steps: the messages this call added
    previous: int | None = None  # model steps: the seq of the previous call of the conversation
    response: dict | None = None  # model steps: content, tool calls (arguments pretty), finish reason
    child: Run | None = None
    approval: object = None
    bar: dict | None = None  # where the step sits on the run's timeline, set by the page

    @property
    def input_json(self) -> str:
        return pretty_json(self.input)

    @property
    def output_json(self) -> str:
        return pretty_json(self.output)

    @property
    def error_json(self) -> str:
        return pretty_json(self.error)

    @property
    def error_message(self) -> str:
        """One line for the step row: the error's message, if the step has a real error."""
        if isinstance(self.error, dict):
            return str(self.error.get("message") or "")
        return ""

    @property
    def retries(self) -> list[dict]:
        """Failed attempts before the recorded one (model calls journal them in `error`)."""
        if isinstance(self.error, dict):
            return list(self.error.get("retries") or self.error.get("attempts") or [])
        return []


def step_views(steps, *, children=None, approvals=None) -> list[StepView]:
    """`steps` with blobs resolved for display: one query for the blobs of the whole page."""
    blobs = blobs_for([value for s in steps for value in (s.input, s.output, s.error)])
    views = []
    for step in steps:
        view = StepView(
            step=step,
            input=resolved(step.input, blobs),
            output=resolved(step.output, blobs),
            error=resolved(step.error, blobs),
            child=(children or {}).get(step.seq),
            approval=(approvals or {}).get(step.seq),
        )
        if step.kind == StepKind.LLM:
            _add_model_details(view)
        views.append(view)
    return views


def _add_model_details(view: StepView) -> None:
    if isinstance(view.input, dict):
        view.messages = [m for m in (view.input.get("messages") or []) if isinstance(m, dict)]
        view.previous = view.input.get("previous")
    if isinstance(view.output, dict):
        view.response = {
            "content": view.output.get("content"),
            "finish_reason": view.output.get("finish_reason"),
            "usage": view.output.get("usage") or {},
            "tool_calls": [
                {"id": call.get("id"), "name": call.get("name"), "arguments": _pretty_arguments(call.get("arguments"))}
                for call in view.output.get("tool_calls") or []
            ],
        }


def _pretty_arguments(arguments) -> str:
    """Tool-call arguments arrive as the model's raw JSON text, which may not even be JSON."""
    if isinstance(arguments, str):
        try:
            return pretty_json(json.loads(arguments))
        except ValueError:
            return arguments
    return pretty_json(arguments)


# -- full prompts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptMessage:
    """One message of a rebuilt prompt. `seq` is the model step whose journal entry holds it
    (for a reply, the call that produced it); `added` marks the messages new in this call."""

    message: dict
    seq: int
    added: bool
    reply: bool = False

    @property
    def role(self) -> str:
        return str(self.message.get("role", ""))

    @property
    def tool_calls(self) -> list[dict]:
        calls = self.message.get("tool_calls") or []
        return [
            {
                "id": call.get("id"),
                "name": (call.get("function") or {}).get("name", call.get("name")),
                "arguments": _pretty_arguments((call.get("function") or {}).get("arguments", call.get("arguments"))),
            }
            for call in calls
            if isinstance(call, dict)
        ]

    @property
    def content_text(self) -> str:
        content = self.message.get("content")
        if content is None or isinstance(content, str):
            return content or ""
        return pretty_json(content)  # multi-part content


def prompts_for_steps(*, run: Run, seqs) -> dict[int, list[PromptMessage]]:
    """{seq: the full message list the model step `seq` was called with} for the model steps
    among `seqs` (others are left out). Two queries (three if some input is a whole blob),
    however long the run and however many seqs are asked for.
    """
    seqs = set(seqs)
    if not seqs:
        return {}
    rows = list(
        Step.objects.filter(run=run, kind=StepKind.LLM, seq__lte=max(seqs))
        .order_by("seq")
        .values_list("seq", "input", "output")
    )
    journal = _model_journal(rows)
    return {seq: _prompt(seq, journal) for seq in sorted(seqs) if seq in journal}


def prompt_for_step(*, run: Run, seq: int) -> list[PromptMessage] | None:
    """The full prompt of model step `seq` of `run`, or None if that step is not a model call."""
    return prompts_for_steps(run=run, seqs=[seq]).get(seq)


@dataclass(frozen=True)
class _ModelEntry:
    previous: int | None
    messages: list
    reply: dict | None


def _model_journal(rows) -> dict[int, _ModelEntry]:
    """{seq: (previous, added messages, reply message)} with the blobs the prompts need resolved.

    Tool lists are dropped before resolving: a prompt shows messages, and the tool list blob is
    the largest payload of a model step.
    """
    # A failed call may have stored its whole input as one blob: resolve those first.
    inputs = {seq: value for seq, value, _ in rows}
    whole = [value for value in inputs.values() if is_blob_ref(value)]
    blobs = blobs_for(whole) if whole else BlobMap()
    inputs = {seq: resolved(value, blobs) if is_blob_ref(value) else value for seq, value in inputs.items()}
    inputs = {seq: _without_tools(value) for seq, value in inputs.items()}
    outputs = {seq: output for seq, _, output in rows}
    blobs = blobs_for([*inputs.values(), *outputs.values()], blobs)

    journal = {}
    for seq, value in inputs.items():
        value = resolved(value, blobs)
        output = resolved(outputs[seq], blobs)
        messages = value.get("messages") if isinstance(value, dict) else None
        journal[seq] = _ModelEntry(
            previous=value.get("previous") if isinstance(value, dict) else None,
            messages=_messages(messages),
            reply=LLMResponse.from_dict(output).to_message() if isinstance(output, dict) else None,
        )
    return journal


def _messages(value) -> list[dict]:
    if isinstance(value, dict) and value.get("missing"):  # an unresolvable blob: say so in place
        text = f"these messages were stored in blob {value.get(BLOB_KEY)}, which is missing"
        return [{"role": "missing", "content": text}]
    return [m for m in value or [] if isinstance(m, dict)]


def _without_tools(value):
    if isinstance(value, dict) and "tools" in value:
        return {k: v for k, v in value.items() if k != "tools"}
    return value


def _prompt(seq: int, journal: dict[int, _ModelEntry]) -> list[PromptMessage]:
    """Walk `previous` links back to the conversation's first call, then concatenate forwards.

    Iterative (a run can hold thousands of calls) and guarded against links that do not point
    strictly backwards, which would otherwise loop.
    """
    chain = [seq]
    previous = journal[seq].previous
    while isinstance(previous, int) and previous < chain[-1] and previous in journal:
        chain.append(previous)
        previous = journal[previous].previous
    messages: list[PromptMessage] = []
    prior = None
    for step_seq in reversed(chain):
        if prior is not None and journal[prior].reply is not None:
            messages.append(PromptMessage(journal[prior].reply, prior, added=False, reply=True))
        messages += [PromptMessage(m, step_seq, added=step_seq == seq) for m in journal[step_seq].messages]
        prior = step_seq
    return messages
