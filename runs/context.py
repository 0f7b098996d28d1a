"""`ctx`: what a workflow calls, and how each call is journaled and replayed.

Every ctx call takes the next sequence number. When the journal already holds a finished step at
that number, the call returns (or raises) what was recorded and does nothing else; when the
recorded step is of another kind or name, the run fails with a non-determinism error. New steps
are written with as few statements as their semantics allow:

- code and model steps: one INSERT when they finish (a crash before it simply repeats them);
- tool steps: an INSERT `started` before the call and an UPDATE after it, so that a crash in
  between is seen on replay (idempotent tools are retried with the same key, others go in doubt).
  A tool declared read-only and idempotent has no side effect to protect: one INSERT after it;
- repeatable steps — model calls, read-only idempotent tool calls, `ctx.read_step` — are not
  committed on their own: their rows wait in memory and go into the next transaction the run
  makes. That is always before anything with an effect outside the run starts (a code step, a
  tool call that may write, a wait, a child run, the run's end), before a second model call, and
  at the latest after `RUN_DEFER_SECONDS`. A crash therefore repeats at most the latest model
  call and the reads after it, never a side effect, and never a step anything durable depends
  on; an agent turn (model call, its tool reads) costs one durable commit instead of one each.
- waits (approval, timer, child run, in-doubt): the waiting step, whatever it waits on and the
  run's move to `waiting` are one transaction, so nothing can resolve the wait before the run
  is parked. Then `Suspend` unwinds the workflow and frees the worker.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from agentops import config_cache, db
from agentops.audit.services import Actor, PreparedEvent, audit_append, audit_append_all, audit_prepare, audit_record
from agentops.llm.base import LLMResponse, ProviderError, ToolSpec
from agentops.llm.gateway import complete_with_retries
from agentops.llm.pricing import cost_of, price_for, price_snapshot
from agentops.llm.registry import get_provider
from agentops.retry import RetryPolicy

from . import live
from .errors import ChildRunFailed, LeaseLost, NonDeterminismError, RunFailure, StepFailed, Suspend, ToolError
from .journal import BlobWriter, JournalEntry, JSONText, encode_step, insert_steps
from .lease import Lease, prepare_run_release
from .models import DailyUsage, Run, RunStatus, Step, StepKind, StepStatus, WaitingReason

DEFAULT_LLM_RETRY = {"max_attempts": 4, "base_delay": 1.0, "max_delay": 30.0}


def run_slice_seconds() -> float:
    """A worker executes one run for at most this long before re-queueing it (fairness, and
    django-q2's task timeout then bounds a slice, never a whole run)."""
    return float(getattr(settings, "RUN_SLICE_SECONDS", 300))


def inline_sleep_seconds() -> float:
    """Sleeps up to this long happen in the worker; longer ones park the run on a timer."""
    return float(getattr(settings, "RUN_INLINE_SLEEP_SECONDS", 10))


def run_defer_seconds() -> float:
    """How long a repeatable step may wait in memory for the next write (0: write every step at once)."""
    return float(getattr(settings, "RUN_DEFER_SECONDS", 1))


@dataclass(frozen=True)
class _NewStep:
    params: tuple
    entry: JournalEntry
    blobs: BlobWriter
    event: PreparedEvent | None = None  # its audit event, appended in the step's transaction
    usage: dict | None = None  # a model call's counters: model_calls, tokens_in, tokens_out, cost


@dataclass(frozen=True)
class ApprovalOutcome:
    approved: bool
    arguments: dict | None
    comment: str
    decided_by: str | None
    status: str


class RunContext:
    def __init__(self, run: Run, *, lease: Lease, journal: dict[int, JournalEntry], started: float):
        self.run = run
        self.version = run.agent_version
        self.tenant = run.tenant
        self.lease = lease
        self._journal = journal
        self._seq = 0
        self._written = max(journal, default=0)
        self._conversations: dict[str, tuple[int, list]] = {}
        self._started = started  # time.monotonic() when this execution began
        self.findings: list[dict] = []  # tool results seen so far, shown to approvers as context
        self.last_reason = ""  # what the model said alongside its latest tool calls
        self._tool_session = None
        self._blobs_stored: set[str] = set()  # blobs this execution wrote (see BlobWriter)
        self._last_tools: tuple[list, list[dict]] | None = None
        self._deferred: list[_NewStep] = []  # repeatable steps not written yet (see the module docstring)
        self._deferred_since = 0.0

    @property
    def tool_session(self):
        """The tool gateway for this execution (it reads the registry once, see ToolSession)."""
        from tools.gateway import ToolSession

        if self._tool_session is None:
            self._tool_session = ToolSession(self.run)
        return self._tool_session

    # -- journal plumbing ------------------------------------------------------------------

    def _next(self, kind: str, name: str) -> tuple[int, JournalEntry | None]:
        """Allocate the next seq; return the recorded step there, if any, after checking it matches."""
        self._seq += 1
        seq = self._seq
        recorded = self._journal.get(seq)
        if recorded is not None:
            if (recorded.kind, recorded.name) != (kind, name):
                raise NonDeterminismError(seq, (recorded.kind, recorded.name), (kind, name))
            if recorded.status in (StepStatus.COMPLETED, StepStatus.FAILED):
                return seq, recorded
        self._before_new_work(seq, recorded)
        return seq, recorded

    def _before_new_work(self, seq: int, recorded: JournalEntry | None) -> None:
        """Limits and ownership, checked before anything is executed (replayed steps are free)."""
        self.lease.check()
        if self._deferred and time.monotonic() - self._deferred_since > run_defer_seconds():
            self._write_deferred()
        if time.monotonic() - self._started > run_slice_seconds():
            self._requeue()
        if recorded is None and seq > self.version.max_steps:
            raise RunFailure("max_steps_exceeded", f"the run reached its limit of {self.version.max_steps} steps")
        if self.active_seconds() > self.version.timeout_seconds:
            raise RunFailure(
                "deadline_exceeded", f"the run executed for longer than its {self.version.timeout_seconds} s timeout"
            )

    def active_seconds(self) -> float:
        return self.run.active_seconds + (time.monotonic() - self._started)

    def deadline(self) -> float:
        """The run's deadline as a time.monotonic() value, for per-call timeouts."""
        return time.monotonic() + max(0.0, self.version.timeout_seconds - self.active_seconds())

    def _insert(self, seq: int, kind: str, name: str, status: str, *, defer=False, **step) -> JournalEntry:
        """Write a new step (alone, or in the caller's transaction) or defer it; see _new_step for `step`."""
        return self._write(self._new_step(seq, kind, name, status, **step), defer=defer)

    def _new_step(self, seq: int, kind: str, name: str, status: str, *, input=None, output=None, error=None,
                  started_at=None, finished=True, blobs: BlobWriter | None = None, pack_input=True, event=None,
                  usage=None, **fields) -> "_NewStep":
        """A step ready to write: large payloads packed into blobs, every value encoded."""
        blobs = blobs or BlobWriter(self._blobs_stored)
        now = timezone.now()
        params = encode_step(run_id=self.run.pk, seq=seq, kind=kind, name=name, status=status,
                             input=blobs.pack_column(input) if pack_input else input, output=blobs.pack_column(output),
                             error=error, started_at=started_at or now, finished_at=now if finished else None, **fields)
        entry = JournalEntry(seq, kind, name, status, output, error, fields.get("attempt", 1))
        return _NewStep(params, entry, blobs, event, usage)

    def _write(self, new: "_NewStep", *, defer=False) -> JournalEntry:
        """Write `new`, after the deferred steps and in one transaction with them; or, if it is
        repeatable (`defer`), keep it for the next write."""
        self._journal[new.entry.seq] = new.entry
        if defer and run_defer_seconds() > 0:
            if not self._deferred:
                self._deferred_since = time.monotonic()
            self._deferred.append(new)
        else:
            self._write_steps([*self._take_deferred(), new])
        return new.entry

    def _take_deferred(self) -> list["_NewStep"]:
        steps, self._deferred = self._deferred, []
        return steps

    def _write_deferred(self) -> None:
        if self._deferred:
            self._write_steps(self._take_deferred())

    def _write_steps(self, steps: list["_NewStep"]) -> None:
        """Insert `steps` with what belongs to them, in one transaction (see _StepsWrite)."""
        _StepsWrite(self.run, steps).apply()
        self._written = max(self._written, steps[-1].entry.seq)
        _notify_step(self.run.pk, self._written)

    def _update(self, step: JournalEntry, **fields) -> None:
        blobs = BlobWriter(self._blobs_stored)
        fields.setdefault("finished_at", timezone.now())
        unpacked = {key: fields[key] for key in ("input", "output") if key in fields}
        for key in unpacked:
            fields[key] = blobs.pack(fields[key])
        with transaction.atomic():
            self._write_deferred()
            blobs.flush()
            db.update(Step, {"run": self.run.pk, "seq": step.seq}, set=fields)
        for key, value in {**fields, **unpacked}.items():
            if key in JournalEntry.__slots__:
                setattr(step, key, value)
        _notify_step(self.run.pk, step.seq)

    def _park(self, reason: str, *, wake_at: datetime | None = None) -> None:
        """Move the run to waiting and release the lease; call inside the wait's transaction."""
        from .services import run_schedule_timer

        if not self._release(status=RunStatus.WAITING, waiting_reason=reason, wake_at=wake_at).apply():
            raise LeaseLost()
        if wake_at is not None:
            run_schedule_timer(self.run.pk, wake_at)

    def _requeue(self):
        """Give the worker back after a long slice: the run goes to the end of the queue."""
        from .services import run_enqueue

        with transaction.atomic():
            if not self._release(status=RunStatus.QUEUED).apply():
                raise LeaseLost()
            run_enqueue(self.run.pk)
        raise Suspend()

    def _release(self, *, events=(), **changes) -> "_Release":
        """Giving up the lease with `changes` and this execution's totals (see prepare_run_release),
        the deferred steps and `events` (audit) written with it, or dropped if another worker holds
        the run now: prepared here, to `apply()` inside a transaction."""
        deferred = self._take_deferred()
        usage = _total_usage(deferred)
        self._written = max(self._written, deferred[-1].entry.seq if deferred else 0)
        release = prepare_run_release(run_id=self.run.pk, owner=self.lease.owner, step_count=self._written,
                                      active_seconds=self.active_seconds(), updated_at=timezone.now(),
                                      add=_run_counters(usage) if usage else None, **changes)
        return _Release(release, _StepsWrite(self.run, deferred, events=events, usage_on_run=False)
                        if deferred or events else None)

    def _suspend(self, reason: str, *, wake_at: datetime | None = None):
        with transaction.atomic():
            self._park(reason, wake_at=wake_at)
        _notify_step(self.run.pk, self._written)
        raise Suspend()

    # -- code --------------------------------------------------------------------------------

    @property
    def input(self) -> dict:
        return self.run.input

    def step(self, name: str, fn, *args, **kwargs):
        """Run `fn(*args, **kwargs)` once; its JSON result is journaled and replayed.

        If `fn` raises, the error is journaled and `StepFailed` raised (again on every replay).
        """
        return self._code_step(name, fn, args, kwargs, repeatable=False)

    def read_step(self, name: str, fn, *args, **kwargs):
        """Like `step`, for code without side effects (a lookup, a computation): its row is
        written with the run's next write, so a crash may run it again (see the module docstring)."""
        return self._code_step(name, fn, args, kwargs, repeatable=True)

    def _code_step(self, name: str, fn, args, kwargs, *, repeatable: bool):
        seq, recorded = self._next(StepKind.CODE, name)
        if recorded is not None:
            if recorded.status == StepStatus.FAILED:
                raise StepFailed(name, recorded.error or {})
            return recorded.output
        if not repeatable:
            self._write_deferred()  # what this code does may depend on them: they must not be lost
        started_at = timezone.now()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            error = {"type": type(exc).__name__, "message": str(exc)[:2000],
                     "traceback": traceback.format_exc(limit=8)[-4000:]}
            self._insert(seq, StepKind.CODE, name, StepStatus.FAILED, error=error, started_at=started_at)
            raise StepFailed(name, error) from exc
        text = JSONText(json.dumps(result, cls=DjangoJSONEncoder))  # encoded once, for the row and for replay
        entry = self._insert(seq, StepKind.CODE, name, StepStatus.COMPLETED, output=text, started_at=started_at,
                             defer=repeatable)
        entry.output = json.loads(text)  # exactly what a replay will return
        return entry.output

    # -- model -------------------------------------------------------------------------------

    def llm(self, messages: list[dict], *, tools: list[ToolSpec] | None = None, model: str | None = None,
            temperature: float | None = None, conversation: str = "main") -> LLMResponse:
        """One model call through the gateway, with retries, limits checked first, cost recorded.

        Only the messages added since the previous call of `conversation` are journaled.
        """
        model = model or self.version.model
        temperature = self.version.temperature if temperature is None else temperature
        seq, recorded = self._next(StepKind.LLM, model)
        if recorded is not None:
            if recorded.status == StepStatus.FAILED:
                raise RunFailure("model_error", (recorded.error or {}).get("message", "the model call failed"))
            response = LLMResponse.from_dict(recorded.output)
        else:
            if any(step.entry.kind == StepKind.LLM for step in self._deferred):
                self._write_deferred()  # at most one model call is ever unwritten; budgets see every cost
            self._check_budgets()
            response = self._call_model(seq, model, messages, tools or [], temperature, conversation)
        self._conversations[conversation] = (seq, [*messages, response.to_message()])
        self.last_reason = response.content or ""
        return response

    def _check_budgets(self) -> None:
        max_cost = self.version.max_cost
        if max_cost is not None and self.run.cost >= max_cost:
            raise RunFailure("max_cost_exceeded", f"the run has spent ${self.run.cost} of its ${max_cost} limit")
        limit = self.tenant.daily_cost_limit
        if limit is not None:
            spent = DailyUsage.objects.filter(tenant_id=self.tenant.pk, day=timezone.now().date()).aggregate(
                total=Sum("cost"))["total"] or Decimal(0)
            if spent >= limit:
                raise RunFailure("tenant_budget_exceeded",
                                 f"tenant {self.tenant.slug} has spent ${spent} of its ${limit} daily budget")

    def _call_model(self, seq, model, messages, tools, temperature, conversation) -> LLMResponse:
        config = self.version.provider_config or {}
        provider = get_provider(self.version.provider, config)
        attempts: list[dict] = []
        started_at = timezone.now()
        step_input = self._llm_input(model, messages, tools, temperature, conversation)
        try:
            with self.lease.keepalive():
                response = complete_with_retries(
                    provider, model=model, messages=messages, tools=tools, temperature=temperature,
                    timeout=float(config.get("timeout", 60)), policy=RetryPolicy.from_dict(config.get("retry", DEFAULT_LLM_RETRY)),
                    deadline=self.deadline(),
                    on_retry=lambda n, exc, delay: attempts.append({"attempt": n, "error": str(exc), "delay": round(delay, 3)}),
                )
        except ProviderError as exc:
            error = {"code": "model_error", "message": exc.message, "status": exc.status, "attempts": attempts}
            self._insert(seq, StepKind.LLM, model, StepStatus.FAILED, input=step_input, error=error,
                         started_at=started_at, attempt=len(attempts) + 1, model=model)
            raise RunFailure("model_error", f"the model call failed: {exc.message}") from exc
        self._record_model_step(seq, model, step_input, response, started_at, attempts)
        return response

    def _price(self, model: str):
        """The model's price row (a run calls the same model many times: cached, see config_cache)."""
        return config_cache.cached(("model-price", model), lambda: price_for(model))

    def _llm_input(self, model, messages, tools, temperature, conversation) -> dict:
        previous = self._conversations.get(conversation)
        if previous and messages[: len(previous[1])] == previous[1]:
            previous_seq, added = previous[0], messages[len(previous[1]):]
        else:
            previous_seq, added = None, messages
        return {"conversation": conversation, "previous": previous_seq, "messages": added,
                "tools": self._tool_dicts(tools), "model": model, "temperature": temperature}

    def _tool_dicts(self, tools: list[ToolSpec]) -> list[dict]:
        """The tool list as journaled; a loop passes the same list to every call, so it is built once."""
        if self._last_tools is None or self._last_tools[0] is not tools:
            self._last_tools = (tools, [asdict(t) for t in tools])
        return self._last_tools[1]

    def _record_model_step(self, seq, model, step_input, response: LLMResponse, started_at, attempts) -> None:
        price = self._price(response.model or model)
        cost = cost_of(response.usage, price)
        usage = response.usage
        blobs = BlobWriter(self._blobs_stored)
        # The tool list is the same on every call of a run: store it once, by content. The
        # input's other parts are packed one by one, so no blob ever nests another.
        step_input = {**step_input, "messages": blobs.pack(step_input["messages"]),
                      "tools": blobs.pack(step_input["tools"], force=True) if step_input["tools"] else []}
        new = self._new_step(
            seq, StepKind.LLM, model, StepStatus.COMPLETED, input=step_input, output=response.to_dict(),
            error={"retries": attempts} if attempts else None, started_at=started_at, blobs=blobs, pack_input=False,
            attempt=len(attempts) + 1, model=response.model or model, tokens_in=usage.input_tokens,
            tokens_out=usage.output_tokens, tokens_cached=usage.cached_input_tokens, cost=cost,
            price=price_snapshot(price), usage={"model_calls": 1, "tokens_in": usage.input_tokens,
                                                 "tokens_out": usage.output_tokens, "cost": cost},
        )
        self._write(new, defer=True)
        self.run.cost += cost

    # -- tools -------------------------------------------------------------------------------

    def tool(self, name: str, arguments: dict | str):
        """Call a registered tool through the gateway; returns its result or raises ToolError.

        Refusals (unknown, not granted, no permission, invalid arguments) and rejections by an
        approver are journaled and raised as ToolError, for the workflow (or the model) to handle.
        """
        from tools.gateway import ToolRefused
        from tools.models import name_from_wire

        name = name_from_wire(name)  # models see "billing__refund"; the journal and people see "billing.refund"
        upcoming = self._journal.get(self._seq + 1)
        prepared = None
        if upcoming is None:  # a new call: the gateway decides whether it may run and if it needs approval
            try:
                prepared = self.tool_session.prepare(name, arguments)
            except ToolRefused as refusal:
                seq, _ = self._next(StepKind.TOOL, name)
                return self._refuse_at(seq, name, arguments, refusal)
            if prepared.approval is not None:
                arguments, prepared = self._tool_approval(name, prepared), None  # approved arguments: check again
        elif upcoming.kind == StepKind.APPROVAL and upcoming.name == name:
            arguments = self._tool_approval(name, None)
        return self._tool_call(name, arguments, prepared)

    def _tool_approval(self, name: str, prepared) -> dict:
        """The approval step before a gated call: returns the approved arguments or raises ToolError."""
        seq, recorded = self._next(StepKind.APPROVAL, name)
        if recorded is None:
            self._request_approval(seq, name, prepared)
        outcome = self._approval_outcome(seq, recorded)
        if not outcome.approved:
            who = f" by {outcome.decided_by}" if outcome.decided_by else ""
            raise ToolError("approval_rejected", f"{name} was {outcome.status}{who}: {outcome.comment or 'no comment'}")
        return outcome.arguments

    def _request_approval(self, seq, name, prepared) -> None:
        from approvals.services import approval_request_create

        need = prepared.approval
        with transaction.atomic():
            self._insert(seq, StepKind.APPROVAL, name, StepStatus.WAITING,
                         input={"arguments": prepared.arguments, "reason": need.reason, "risk": need.risk}, finished=False)
            approval_request_create(
                run=self.run, step_seq=seq, title=f"{self.run.agent.name} wants to call {name}", tool_name=name,
                proposed_arguments=prepared.arguments, context=self._approval_context(need.reason), risk=need.risk,
                required_approvals=need.required_approvals, approver_group_id=need.approver_group_id,
                escalation_group_id=need.escalation_group_id, expires_in_seconds=need.expires_in_seconds,
                expiry_action=need.expiry_action,
            )
            self._park(WaitingReason.APPROVAL)
        _notify_step(self.run.pk, seq)
        raise Suspend()

    def _approval_context(self, policy_reason: str) -> dict:
        return {
            "request": self.run.input.get("message") or self.run.input,
            "findings": self.findings[-5:],
            "reason": self.last_reason,
            "policy": policy_reason,
        }

    def _approval_outcome(self, seq: int, recorded: JournalEntry | None) -> ApprovalOutcome:
        """The decision recorded on the step, or read from the request (completing the step)."""
        from approvals.models import ApprovalRequest, ApprovalStatus

        step = self._journal[seq]
        if step.status == StepStatus.COMPLETED:
            return ApprovalOutcome(**step.output)
        request = ApprovalRequest.objects.select_related("decided_by").get(run_id=self.run.pk, step_seq=seq)
        if request.status == ApprovalStatus.PENDING:
            self._suspend(WaitingReason.APPROVAL)
        approved = request.status == ApprovalStatus.APPROVED
        outcome = ApprovalOutcome(
            approved=approved,
            arguments=(request.proposed_arguments if request.approved_arguments is None
                       else request.approved_arguments) if approved else None,
            comment=request.comment, decided_by=request.decided_by.get_username() if request.decided_by else None,
            status=request.status,
        )
        self._update(step, status=StepStatus.COMPLETED, output=asdict(outcome))
        return outcome

    def approval(self, title: str, *, arguments: dict | None = None, context: dict | None = None,
                 risk: str = "medium", required_approvals: int = 1, expires_in_seconds: int | None = None,
                 expiry_action: str = "wait") -> ApprovalOutcome:
        """A generic human decision: waits (the worker is freed) until someone approves or rejects."""
        seq, recorded = self._next(StepKind.APPROVAL, title)
        if recorded is None:
            from approvals.services import approval_request_create

            with transaction.atomic():
                self._insert(seq, StepKind.APPROVAL, title, StepStatus.WAITING,
                             input={"arguments": arguments or {}, "context": context or {}}, finished=False)
                approval_request_create(
                    run=self.run, step_seq=seq, title=title, proposed_arguments=arguments or {},
                    context={**self._approval_context(""), **(context or {})}, risk=risk,
                    required_approvals=required_approvals, expires_in_seconds=expires_in_seconds,
                    expiry_action=expiry_action,
                )
                self._park(WaitingReason.APPROVAL)
            _notify_step(self.run.pk, seq)
            raise Suspend()
        return self._approval_outcome(seq, recorded)

    def _tool_call(self, name: str, arguments, prepared=None):
        seq, recorded = self._next(StepKind.TOOL, name)
        if recorded is not None and recorded.status == StepStatus.COMPLETED:
            self.findings.append({"tool": name, "result": recorded.output})
            return recorded.output
        if recorded is not None and recorded.status == StepStatus.FAILED:
            raise ToolError(**{k: (recorded.error or {}).get(k, "") for k in ("code", "message")})
        return self._execute_tool(seq, name, arguments, recorded, prepared)

    def _execute_tool(self, seq, name, arguments, recorded: JournalEntry | None, prepared=None):
        """Execute the call (`prepared` when the gateway just checked it, else checked here)."""
        from tools.gateway import ToolFailed, ToolRefused, tool_execute
        from tools.models import Effect

        try:
            prepared = prepared or self.tool_session.prepare(name, arguments)
        except ToolRefused as refusal:
            if recorded is None:
                return self._refuse_at(seq, name, arguments, refusal)
            raise ToolError(refusal.code, refusal.message) from refusal
        idempotency_key = f"{self.run.pk}:{seq}"
        step_input = {"arguments": prepared.arguments, "idempotency_key": idempotency_key}
        started_at = timezone.now()
        # A read-only, idempotent tool has no side effect to protect: like a code step it is
        # journaled once, after the call (a crash during the call just makes it again).
        # Any other call is recorded as started before it is made.
        journal_after = recorded is None and prepared.tool.effect == Effect.READ and prepared.tool.idempotent
        step = None if journal_after else self._claim_tool_step(seq, name, step_input, prepared, recorded)
        try:
            with self.lease.keepalive():
                result = tool_execute(prepared=prepared, idempotency_key=idempotency_key, deadline=self.deadline())
        except ToolFailed as failure:
            error = {"code": "tool_failed", "message": failure.message, "retryable": failure.retryable}
            self._record_tool_end(seq, name, step, step_input, started_at, self._tool_event(name, seq, prepared, error=error),
                                  status=StepStatus.FAILED, error=error)
            raise ToolError("tool_failed", failure.message) from failure
        result = _json_safe(result)
        event = self._tool_event(name, seq, prepared, result_summary=_summary(result))
        self._record_tool_end(seq, name, step, step_input, started_at, event, status=StepStatus.COMPLETED, output=result)
        self.findings.append({"tool": name, "result": result})
        return result

    def _record_tool_end(self, seq, name, step: JournalEntry | None, step_input, started_at, event, *, status,
                         output=None, error=None) -> None:
        """The call's outcome and its audit event, in one transaction (the event prepared before it)."""
        if step is None:  # a read-only idempotent call: repeatable
            self._insert(seq, StepKind.TOOL, name, status, input=step_input, output=output, error=error,
                         started_at=started_at, event=event, defer=True)
        else:
            with transaction.atomic():
                self._update(step, status=status, output=output, error=error)
                audit_append(event)

    def _refuse_at(self, seq, name, arguments, refusal):
        from tools.gateway import tool_refusal_audit

        error = {"code": refusal.code, "message": refusal.message}
        with transaction.atomic():
            self._insert(seq, StepKind.TOOL, name, StepStatus.FAILED, input={"arguments": arguments}, error=error)
            tool_refusal_audit(run=self.run, name=name, refusal=refusal)
        raise ToolError(refusal.code, refusal.message)

    def _claim_tool_step(self, seq, name, step_input, prepared, recorded: JournalEntry | None) -> JournalEntry:
        """Record the call as started before it runs. A step found `started` means a worker died
        during the call: an idempotent tool is called again with the same key; any other goes in
        doubt and waits for a person, unless one already chose to retry it."""
        if recorded is None:
            return self._insert(seq, StepKind.TOOL, name, StepStatus.STARTED, input=step_input, finished=False)
        retry_ordered = (recorded.error or {}).get("resolution") == "retry"
        if recorded.status == StepStatus.STARTED and (prepared.tool.idempotent or retry_ordered):
            self._update(recorded, attempt=recorded.attempt + 1, finished_at=None, error=None)
            return recorded
        if recorded.status == StepStatus.STARTED:
            with transaction.atomic():
                self._update(recorded, status=StepStatus.IN_DOUBT, finished_at=None, error={
                    "code": "in_doubt",
                    "message": f"the worker stopped while {name} was running and the tool is not idempotent: "
                               "it may or may not have taken effect. Retry it, mark it done or fail it.",
                })
                audit_record(tenant=self.tenant, action="tool.in_doubt", actor=Actor.for_run(self.run),
                             target=self.run, data={"tool": name, "seq": seq})
                self._park(WaitingReason.IN_DOUBT)
        else:  # still in doubt: a spurious wake-up
            with transaction.atomic():
                self._park(WaitingReason.IN_DOUBT)
        raise Suspend()

    def _tool_event(self, name, seq, prepared, **data):
        return audit_prepare(tenant=self.tenant, action="tool.called", actor=Actor.for_run(self.run), target=self.run,
                             data={"tool": name, "seq": seq, "arguments": prepared.arguments, **data})

    # -- time and children ---------------------------------------------------------------------

    def sleep(self, seconds: float) -> None:
        """Pause the run. Short pauses keep the worker; longer ones free it until the timer fires."""
        seq, recorded = self._next(StepKind.SLEEP, "sleep")
        if recorded is not None and recorded.status == StepStatus.COMPLETED:
            return
        if recorded is None:
            wake_at = timezone.now() + timedelta(seconds=seconds)
            if seconds <= inline_sleep_seconds():
                step = self._insert(seq, StepKind.SLEEP, "sleep", StepStatus.WAITING,
                                    input={"seconds": seconds}, output={"wake_at": wake_at.isoformat()}, finished=False)
                with self.lease.keepalive():
                    time.sleep(seconds)
                self._update(step, status=StepStatus.COMPLETED)
                return
            with transaction.atomic():
                self._insert(seq, StepKind.SLEEP, "sleep", StepStatus.WAITING, input={"seconds": seconds},
                             output={"wake_at": wake_at.isoformat()}, finished=False)
                self._park(WaitingReason.TIMER, wake_at=wake_at)
            raise Suspend()
        wake_at = datetime.fromisoformat(recorded.output["wake_at"])
        if timezone.now() < wake_at:
            self._suspend(WaitingReason.TIMER, wake_at=wake_at)
        self._update(recorded, status=StepStatus.COMPLETED)

    def agent(self, slug: str, input: dict):
        """Run another agent of the tenant as a child run and return its output (waits for it)."""
        seq, recorded = self._next(StepKind.CHILD, slug)
        if recorded is not None and recorded.status == StepStatus.COMPLETED:
            return recorded.output.get("output")
        if recorded is not None and recorded.status == StepStatus.FAILED:
            raise ChildRunFailed(recorded.output.get("child_run"), recorded.error, "failed")
        if recorded is None:
            self._start_child(seq, slug, input)
        child = Run.objects.get(pk=recorded.output["child_run"])
        if not child.is_finished:
            self._suspend(WaitingReason.CHILD)
        if child.status == RunStatus.SUCCEEDED:
            self._update(recorded, status=StepStatus.COMPLETED, output={"child_run": str(child.pk), "output": child.output})
            return child.output
        self._update(recorded, status=StepStatus.FAILED, error=child.error or {"message": child.status})
        raise ChildRunFailed(str(child.pk), child.error, child.status)

    def _start_child(self, seq, slug, input):
        from .services import run_create_child

        with transaction.atomic():
            child = run_create_child(parent=self.run, parent_step_seq=seq, agent_slug=slug, input=input)
            self._insert(seq, StepKind.CHILD, slug, StepStatus.WAITING, input=input,
                         output={"child_run": str(child.pk)}, finished=False)
            self._park(WaitingReason.CHILD)
        raise Suspend()


def _json_safe(value):
    """Round-trip through JSON so replay returns exactly what a fresh call returned."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _summary(result) -> str:
    text = json.dumps(result, cls=DjangoJSONEncoder, ensure_ascii=False)
    return text if len(text) <= 500 else text[:500] + "…"


def _total_usage(steps: list[_NewStep]) -> dict | None:
    """The summed counters of the model calls among `steps` (None if there is none)."""
    usages = [new.usage for new in steps if new.usage]
    return {key: sum(usage[key] for usage in usages) for key in usages[0]} if usages else None


def _run_counters(usage: dict) -> dict:
    return {key: usage[key] for key in ("tokens_in", "tokens_out", "cost")}


class _StepsWrite:
    """New steps with what belongs to them: their blobs, their audit events and `events` (one
    read of the chain), their model usage on the day's counters and, unless the run's release adds
    it (`usage_on_run=False`), on the run. Everything is encoded here, before the transaction that
    `apply()` makes: on SQLite, the time inside one is time every other writer waits."""

    def __init__(self, run: Run, steps: list[_NewStep], *, events=(), usage_on_run=True):
        self.steps = steps
        self.events = [*(new.event for new in steps if new.event is not None), *events]
        usage = _total_usage(steps)
        self.run_counters = db.update_statement(Run, {"id": run.pk}, set={"step_count": steps[-1].entry.seq},
                                                add=_run_counters(usage)) if usage and usage_on_run else None
        self.daily_usage = _DailyUsage(run, usage) if usage else None

    def apply(self) -> None:
        only = self.steps[0] if len(self.steps) == 1 and not self.events and not self.daily_usage else None
        if only is not None and not only.blobs.pending.keys() - only.blobs.stored:
            insert_steps([only.params])  # one statement: its own transaction in autocommit mode
            return
        with transaction.atomic(savepoint=False):
            for new in self.steps:
                new.blobs.flush()
            if self.steps:
                insert_steps([new.params for new in self.steps])
            if self.run_counters:
                self.run_counters.run()
            if self.daily_usage:
                self.daily_usage.add()
            if self.events:
                audit_append_all(self.events)


@dataclass(frozen=True)
class _Release:
    """The run's release (a compare and swap on the lease) and what is written with it."""

    release: db.Statement
    steps: _StepsWrite | None

    def apply(self) -> bool:
        """Inside a transaction: False, writing nothing, if another worker holds the run now."""
        if self.release.run() != 1:
            return False
        if self.steps is not None:
            self.steps.apply()
        return True


class _DailyUsage:
    """Model usage added to the tenant's and agent's counters of the day (a row made if it has none)."""

    def __init__(self, run: Run, counters: dict):
        self.run, self.counters = run, counters
        self.day = timezone.now().date()
        self.update = db.update_statement(DailyUsage, {"tenant": run.tenant_id, "agent": run.agent_id, "day": self.day},
                                          add=counters)

    def add(self) -> None:
        if self.update.run():
            return
        try:
            with transaction.atomic():
                DailyUsage.objects.create(tenant_id=self.run.tenant_id, agent_id=self.run.agent_id, day=self.day,
                                          **self.counters)
        except IntegrityError:  # another worker created today's row first
            self.update.run()


def _notify_step(run_id, seq: int) -> None:
    """Tell live viewers (after the step's transaction commits; a no-op without listeners)."""
    live.notify_run_changed(run_id, seq)
