"""Workflows by name. A workflow is `fn(ctx, input) -> output` and must be deterministic given
the results of its ctx calls: on resume it runs again from the top and replays the journal."""

from typing import Callable

_WORKFLOWS: dict[str, Callable] = {}


def workflow(name: str):
    def register(fn: Callable) -> Callable:
        if name in _WORKFLOWS and _WORKFLOWS[name] is not fn:
            raise ValueError(f"workflow {name!r} is already registered")
        _WORKFLOWS[name] = fn
        fn.workflow_name = name
        return fn

    return register


def get_workflow(name: str) -> Callable | None:
    return _WORKFLOWS.get(name)


def agent_workflow_errors(*, tenant, config: dict) -> dict[str, list[str]]:
    """An agent version's check (agentops.agents.validation): its workflow must be registered here."""
    name = config.get("workflow")
    if name in _WORKFLOWS:
        return {}
    return {"workflow": [f"No workflow named {name!r} is registered; known: {', '.join(sorted(_WORKFLOWS))}. "
                         "A module defining workflows must be listed in WORKFLOW_MODULES."]}

