"""`ctx`: what a workflow calls. Each verb is a step of the run's journal; see `recorder` for how
steps are numbered, replayed and written, `parking` for waits, and `steps/` for each kind."""

from __future__ import annotations

from functools import cached_property

from agentops.llm.base import LLMResponse, ToolSpec
from agentops.memory.policy import MemoryPolicy
from tools.gateway import ToolSession

from ..journal import JournalEntry
from ..models import Run
from ..waits import ApprovalOutcome
from .lease import Lease
from .recorder import StepRecorder
from .steps.approval import approval
from .steps.child import child_run
from .steps.code import code_step
from .steps.memory import recall, remember
from .steps.model import ModelCalls
from .steps.timer import sleep
from .steps.tool import tool_call


class RunContext:
    def __init__(self, run: Run, *, lease: Lease, journal: dict[int, JournalEntry], started: float):
        self.run = run
        self.version = run.agent_version
        self.tenant = run.tenant
        self.lease = lease
        self.journal = StepRecorder(run, lease=lease, journal=journal, started=started)
        self.findings: list[dict] = []  # tool results seen so far, shown to approvers as context
        self.last_reason = ""  # what the model said alongside its latest tool calls
        self._models = ModelCalls(self)
        self._tool_session: ToolSession | None = None

    @property
    def input(self) -> dict:
        return self.run.input

    @cached_property
    def memory_policy(self) -> MemoryPolicy:
        """What the agent version lets runs read and write of long-term memory."""
        return MemoryPolicy.from_config(self.version.memory)

    def main_prompt_tokens(self) -> int | None:
        """Prompt tokens the latest call of the main conversation reported, if it made one."""
        return self._models.prompt_tokens.get("main")

    @property
    def tool_session(self) -> ToolSession:
        """The tool gateway for this execution (it reads the registry once, see ToolSession)."""
        if self._tool_session is None:
            self._tool_session = ToolSession(self.run)
        return self._tool_session

    def step(self, name: str, fn, *args, **kwargs):
        """Run `fn(*args, **kwargs)` once; its JSON result is journaled and replayed. If `fn`
        raises, the error is journaled and `StepFailed` raised (again on every replay)."""
        return code_step(self, name, fn, args, kwargs, repeatable=False)

    def read_step(self, name: str, fn, *args, **kwargs):
        """Like `step`, for code without side effects (a lookup, a computation): its row is
        written with the run's next write, so a crash may run it again."""
        return code_step(self, name, fn, args, kwargs, repeatable=True)

    def llm(self, messages: list[dict], *, tools: list[ToolSpec] | None = None, model: str | None = None,
            temperature: float | None = None, conversation: str = "main") -> LLMResponse:
        """One model call through the gateway, with retries, budgets checked first, cost recorded.
        Only the messages added since the previous call of `conversation` are journaled."""
        return self._models.call(messages, tools=tools, model=model, temperature=temperature,
                                 conversation=conversation)

    def tool(self, name: str, arguments: dict | str):
        """Call a registered tool through the gateway; returns its result or raises ToolError."""
        return tool_call(self, name, arguments)

    def approval(self, title: str, *, arguments: dict | None = None, context: dict | None = None,
                 risk: str = "medium", required_approvals: int = 1, expires_in_seconds: int | None = None,
                 expiry_action: str = "wait") -> ApprovalOutcome:
        """A human decision: waits (the worker is freed) until someone approves or rejects."""
        return approval(self, title, arguments=arguments, context=context, risk=risk,
                        required_approvals=required_approvals, expires_in_seconds=expires_in_seconds,
                        expiry_action=expiry_action)

    def sleep(self, seconds: float) -> None:
        """Pause the run. Short pauses keep the worker; longer ones free it until the timer fires."""
        sleep(self, seconds)

    def agent(self, slug: str, input: dict):
        """Run another agent of the tenant as a child run and return its output (waits for it)."""
        return child_run(self, slug, input)

    def recall(self, query: str, *, scopes: list[str] | None = None, kind: str | None = None,
               limit: int | None = None) -> list[dict]:
        """Long-term memory items that answer `query`, from the scopes the memory policy lets the
        run read (or those of `scopes`), for the run's own user and agent; a journaled step."""
        return recall(self, query, scopes=scopes, kind=kind, limit=limit)

    def remember(self, content: str, *, kind: str = "fact", scope: str = "user", metadata: dict | None = None) -> dict:
        """Store `content` in a scope the memory policy lets the run write, with this step as its
        provenance; a journaled step."""
        return remember(self, content, kind=kind, scope=scope, metadata=metadata)
