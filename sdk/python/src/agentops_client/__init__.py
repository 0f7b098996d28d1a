"""Python client for the AgentOps API.

    from agentops_client import AgentOps

    client = AgentOps()  # AGENTOPS_API_KEY, AGENTOPS_BASE_URL
    run = client.runs.create(agent="support", message="Where is my order #1042?")
    print(client.runs.wait(run.id).output)
"""

from . import webhooks
from ._async import AsyncAgentOps
from ._base import Page
from ._sync import AgentOps
from ._version import __version__
from .errors import (
    AgentOpsError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RunWaitTimeout,
    WebhookVerificationError,
)
from .models import (
    Agent,
    AgentVersion,
    ApprovalRequest,
    ApprovalVote,
    Delta,
    EvalCase,
    EvalResult,
    EvalRun,
    EvalSuite,
    MemoryItem,
    MemorySearchResult,
    Run,
    StatusChange,
    Step,
    Tool,
)
from .pagination import AsyncPager, Pager
from .streaming import RunEvent

__all__ = [
    "AgentOps", "AsyncAgentOps", "webhooks", "Page", "Pager", "AsyncPager", "RunEvent", "__version__",
    "AgentOpsError", "APIError", "APIConnectionError", "APITimeoutError", "AuthenticationError", "BadRequestError",
    "ConflictError", "InternalServerError", "NotFoundError", "PermissionDeniedError", "RateLimitError",
    "RunWaitTimeout", "WebhookVerificationError",
    "Agent", "AgentVersion", "ApprovalRequest", "ApprovalVote", "Delta", "EvalCase", "EvalResult", "EvalRun",
    "EvalSuite", "MemoryItem", "MemorySearchResult", "Run",
    "StatusChange", "Step", "Tool",
]
