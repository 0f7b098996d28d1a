"""Whether an agent version's configuration can run, checked before the admin saves it.

The parts are known by the apps above the core (the workflows by runs, the tools by tools), which
agents may not import: each registers a check here (`config_check`) from its AppConfig.ready().
A check takes the tenant and the configuration and returns {field: [messages]}.
"""

from __future__ import annotations

from collections.abc import Callable

from agentops.llm.pricing import price_for
from agentops.llm.registry import NAMES as PROVIDER_NAMES
from agentops.memory.policy import memory_policy_errors
from agentops.tenancy.models import Tenant

ConfigCheck = Callable[..., dict[str, list[str]]]
_CHECKS: list[ConfigCheck] = []


def config_check(check: ConfigCheck) -> ConfigCheck:
    if check not in _CHECKS:
        _CHECKS.append(check)
    return check


def agent_config_errors(*, tenant: Tenant, config: dict) -> dict[str, list[str]]:
    """Every registered check's complaints about `config` for an agent of `tenant`, by field."""
    errors: dict[str, list[str]] = {}
    for check in _CHECKS:
        for field, messages in check(tenant=tenant, config=config).items():
            errors.setdefault(field, []).extend(messages)
    return errors


@config_check
def model_errors(*, tenant: Tenant, config: dict) -> dict[str, list[str]]:
    errors = {}
    provider, model = config.get("provider"), config.get("model") or ""
    if provider not in PROVIDER_NAMES:
        errors["provider"] = [f"No model provider named {provider!r}; choose one of: {', '.join(PROVIDER_NAMES)}."]
    if not model.strip() or model != model.strip() or any(char.isspace() for char in model):
        errors["model"] = ["Name the model as its provider does, without spaces (e.g. gpt-4o-mini)."]
    elif config.get("max_cost") is not None and price_for(model) is None:
        # Without a price a run costs nothing, so its max cost would never stop it.
        errors["model"] = [f"No price is known for {model}, so the max cost cannot be enforced: add one under "
                           "Model prices, or clear the max cost."]
    return errors


@config_check
def memory_errors(*, tenant: Tenant, config: dict) -> dict[str, list[str]]:
    """The memory policy's shape (agentops.memory.policy)."""
    errors = memory_policy_errors(config.get("memory", {}))
    return {"memory": errors} if errors else {}
