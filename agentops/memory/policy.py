"""An agent version's memory policy: which scopes its runs may read and write, how many items are
recalled at a run's start, and whether facts are extracted after it.

    {"read": ["user", "agent", "tenant"], "write": ["user"], "recall": 5, "extract": true}

Scopes are resolved per run to (scope, subject) pairs: user → the username of the user the run
acts for (else who started it), agent → the agent's slug, tenant → "". A run without a user has
no user scope: its user memory is neither read nor written.
"""

from __future__ import annotations

from dataclasses import dataclass

SCOPES = ("user", "agent", "tenant")
MAX_RECALL = 50
POLICY_KEYS = {"read", "write", "recall", "extract"}


@dataclass(frozen=True)
class MemoryPolicy:
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    recall: int = 0
    extract: bool = False

    @classmethod
    def from_config(cls, config: dict | None) -> "MemoryPolicy":
        """The policy of a version's `memory` setting (already validated; empty: no memory)."""
        config = config or {}
        return cls(read=tuple(config.get("read") or ()), write=tuple(config.get("write") or ()),
                   recall=int(config.get("recall") or 0), extract=bool(config.get("extract")))


def memory_policy_errors(config) -> list[str]:
    """What is wrong with a version's `memory` setting; empty when it can be used."""
    if not isinstance(config, dict):
        return ['A JSON object, e.g. {"read": ["user"], "write": ["user"], "recall": 5, "extract": true}.']
    errors = []
    unknown = set(config) - POLICY_KEYS
    if unknown:
        errors.append(f"Unknown keys: {', '.join(sorted(unknown))} (known: {', '.join(sorted(POLICY_KEYS))}).")
    for key in ("read", "write"):
        scopes = config.get(key, [])
        if not isinstance(scopes, list) or not all(scope in SCOPES for scope in scopes):
            errors.append(f"{key!r} is a list of scopes among {', '.join(SCOPES)}.")
    recall = config.get("recall", 0)
    if isinstance(recall, bool) or not isinstance(recall, int) or not 0 <= recall <= MAX_RECALL:
        errors.append(f"'recall' is a whole number of items from 0 to {MAX_RECALL}.")
    if not isinstance(config.get("extract", False), bool):
        errors.append("'extract' is true or false.")
    if recall and not config.get("read"):
        errors.append("'recall' needs scopes to read from ('read').")
    if config.get("extract") and not config.get("write"):
        errors.append("'extract' needs scopes to write to ('write').")
    return errors


def scope_subject(scope: str, *, username: str | None, agent_slug: str) -> str | None:
    """The subject of `scope` for a run: None when the run has none (no user)."""
    if scope == "user":
        return username or None
    if scope == "agent":
        return agent_slug
    return ""


def scope_pairs(scopes, *, username: str | None, agent_slug: str) -> list[tuple[str, str]]:
    """(scope, subject) for each of `scopes` the run has a subject for."""
    pairs = [(scope, scope_subject(scope, username=username, agent_slug=agent_slug)) for scope in scopes]
    return [(scope, subject) for scope, subject in pairs if subject is not None]
