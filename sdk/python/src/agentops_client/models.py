"""Typed objects of the API, one dataclass per schema component of `/api/schema/` (the project's
test suite fails when their fields drift from the schema). Every field has a default, so an
object from an older or newer server still loads: unknown keys are kept in `extra`.

Times are ISO 8601 strings and amounts (`cost`, `max_cost`) decimal strings, as the API sends them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Dict, List, Optional, Type, TypeVar

M = TypeVar("M", bound="Model")


@dataclasses.dataclass
class Model:
    # Fields holding other models: name -> (model, whether it is a list).
    nested: ClassVar[Dict[str, Any]] = {}
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls: Type[M], data: Dict[str, Any]) -> M:
        known = {field.name for field in dataclasses.fields(cls)} - {"extra"}
        values = {name: cls._load(name, value) for name, value in data.items() if name in known}
        return cls(**values, extra={name: value for name, value in data.items() if name not in known})

    @classmethod
    def _load(cls, name: str, value: Any) -> Any:
        if name not in cls.nested or value is None:
            return value
        model, many = cls.nested[name]
        return [model.from_dict(item) for item in value] if many else model.from_dict(value)


@dataclasses.dataclass
class AgentVersion(Model):
    number: int = 0
    model: str = ""
    provider: str = ""
    system_prompt: str = ""
    temperature: Optional[float] = None
    tools: List[str] = dataclasses.field(default_factory=list)
    workflow: str = ""
    max_steps: int = 0
    max_cost: Optional[str] = None
    timeout_seconds: int = 0
    child_workflows: List[str] = dataclasses.field(default_factory=list)
    max_child_depth: int = 0
    context_budget_tokens: int = 0
    memory: Any = None
    created_at: str = ""


@dataclasses.dataclass
class Agent(Model):
    nested: ClassVar[Dict[str, Any]] = {"current_version": (AgentVersion, False)}
    slug: str = ""
    name: str = ""
    description: str = ""
    restricted: bool = False
    current_version: AgentVersion = dataclasses.field(default_factory=AgentVersion)
    created_at: str = ""


@dataclasses.dataclass
class Run(Model):
    """A run. `status`: queued, running, waiting (on `waiting_reason`), succeeded, failed, cancelled."""

    id: str = ""
    agent: str = ""
    agent_version: int = 0
    workflow: str = ""
    status: str = ""
    outcome: str = ""
    tool_errors: int = 0
    waiting_reason: str = ""
    input: Any = None
    output: Optional[Any] = None
    error: Optional[Any] = None
    thread: str = ""
    metadata: Any = None
    created_by: Optional[str] = None
    on_behalf_of: Optional[str] = None
    parent: Optional[str] = None
    step_count: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: str = "0"
    created_at: str = ""
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    legal_hold: bool = False
    payload_purged_at: Optional[str] = None

    ENDED: ClassVar[frozenset] = frozenset({"succeeded", "failed", "cancelled"})

    @property
    def ended(self) -> bool:
        return self.status in self.ENDED


@dataclasses.dataclass
class Step(Model):
    """One entry of a run's journal: a model call, a tool call, an approval, a sleep, ..."""

    seq: int = 0
    parent_seq: Optional[int] = None
    kind: str = ""
    name: str = ""
    status: str = ""
    input: Optional[Any] = None
    prompt_url: Optional[str] = None
    output: Optional[Any] = None
    error: Optional[Any] = None
    attempt: int = 0
    started_at: str = ""
    finished_at: Optional[str] = None
    duration_ms: Optional[float] = None
    model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0
    cost: str = "0"
    price: Optional[Any] = None


@dataclasses.dataclass
class ApprovalVote(Model):
    user: str = ""
    verdict: str = ""
    comment: str = ""
    changes: Any = None
    created_at: str = ""


@dataclasses.dataclass
class ApprovalRequest(Model):
    """A call waiting for a person. Decide it with the `seen_hash` of the version you looked at."""

    nested: ClassVar[Dict[str, Any]] = {"votes": (ApprovalVote, True)}
    id: int = 0
    status: str = ""
    title: str = ""
    agent: str = ""
    tool_name: str = ""
    run: str = ""
    step_seq: int = 0
    risk: str = ""
    context: Any = None
    proposed_arguments: Any = None
    arguments: Any = None
    seen_hash: str = ""
    approved_arguments: Optional[Any] = None
    required_approvals: int = 1
    approvals: int = 0
    approver_group: Optional[str] = None
    expires_at: Optional[str] = None
    expiry_action: str = ""
    escalated_at: Optional[str] = None
    requested_by: Optional[str] = None
    decided_by: Optional[str] = None
    decided_at: Optional[str] = None
    comment: str = ""
    created_at: str = ""
    votes: List[ApprovalVote] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Tool(Model):
    name: str = ""
    scope: str = ""
    code: bool = False
    description: str = ""
    input_schema: Any = None
    output_schema: Optional[Any] = None
    kind: str = ""
    config: Any = None
    idempotent: bool = False
    effect: str = ""
    enabled: bool = True
    timeout_seconds: float = 0.0
    retry_policy: Any = None
    argument_rules: Any = None
    approval: str = ""
    approval_condition: str = ""
    required_approvals: int = 1
    approver_group: Optional[int] = None
    expires_in_seconds: Optional[int] = None
    expiry_action: str = ""
    escalation_group: Optional[int] = None
    created_at: str = ""
    updated_at: str = ""


@dataclasses.dataclass
class MemoryItem(Model):
    """A long-term memory item: `scope` user (its `subject` a username), agent (a slug) or tenant."""

    id: int = 0
    scope: str = ""
    subject: str = ""
    kind: str = ""
    content: str = ""
    metadata: Any = None
    source_run: Optional[str] = None
    source_step: Optional[int] = None
    created_by: Optional[str] = None
    created_at: str = ""
    updated_at: str = ""
    expires_at: Optional[str] = None
    embedding_state: str = ""


@dataclasses.dataclass
class MemorySearchResult(Model):
    """A memory item that answers a search, with its `score` (higher is better)."""

    id: int = 0
    content: str = ""
    kind: str = ""
    scope: str = ""
    subject: str = ""
    metadata: Any = None
    score: float = 0.0
    created_at: str = ""
    updated_at: str = ""


@dataclasses.dataclass
class EvalSuite(Model):
    id: int = 0
    name: str = ""
    agent: str = ""
    description: str = ""
    default_assertions: Any = None
    default_vars: Any = None
    created_at: str = ""
    updated_at: str = ""


@dataclasses.dataclass
class EvalCase(Model):
    id: int = 0
    position: int = 0
    name: str = ""
    description: str = ""
    message: str = ""
    input: Optional[Any] = None
    vars: Any = None
    expected: Optional[Any] = None
    assertions: Any = None
    tags: Any = None
    approval_decisions: Any = None
    tool_results: Any = None
    created_at: str = ""


@dataclasses.dataclass
class EvalRun(Model):
    """An eval run: every case of `suite`, `repeats` times; `status` queued, running, then ended."""

    id: int = 0
    suite: int = 0
    suite_name: str = ""
    agent_version: int = 0
    label: str = ""
    repeats: int = 1
    status: str = ""
    baseline: Optional[int] = None
    total: int = 0
    done: int = 0
    summary: Any = None
    error: Optional[Any] = None
    created_by: Optional[str] = None
    created_at: str = ""
    started_at: Optional[str] = None
    finished_at: Optional[str] = None


@dataclasses.dataclass
class EvalResult(Model):
    id: int = 0
    case: int = 0
    case_name: str = ""
    repeat_index: int = 0
    run: Optional[str] = None
    status: str = ""
    passed: Optional[bool] = None
    score: Optional[float] = None
    assertions: Any = None
    error: Optional[Any] = None
    cost: str = "0"
    latency_seconds: Optional[float] = None
    finished_at: Optional[str] = None


@dataclasses.dataclass
class StatusChange(Model):
    """The data of a stream's `status` event."""

    run: str = ""
    status: str = ""
    waiting_on: Optional[str] = None
    updated_at: str = ""


@dataclasses.dataclass
class Delta(Model):
    """The data of a stream's `delta` event: text the model of step `seq` produced so far."""

    seq: int = 0
    delta: str = ""


# The models checked against the schema's components of the same name.
SCHEMA_MODELS = (Agent, AgentVersion, Run, Step, ApprovalRequest, ApprovalVote, Tool, MemoryItem, MemorySearchResult,
                 EvalSuite, EvalCase, EvalRun, EvalResult)
