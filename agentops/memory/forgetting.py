"""What else forgetting a user or a thread must erase, registered by the layers above memory.

The runs layer sits above memory, so it registers a `Forgetter` at start (runs.apps) instead of
memory importing it: `memory_forget` calls each one inside its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class Forgotten:
    """What a forgetter erased: counts by name, and the runs it concerned (their memory items
    go too: an item a run wrote from a thread belongs to that thread)."""

    counts: dict[str, int] = field(default_factory=dict)
    run_ids: list = field(default_factory=list)
    threads: set[str] = field(default_factory=set)  # the threads of those runs: their summaries go too


class Forgetter(Protocol):
    def __call__(self, *, tenant, username: str | None, thread: str | None, actor) -> Forgotten: ...


_forgetters: list[Forgetter] = []


def register_forgetter(forgetter: Forgetter) -> None:
    if forgetter not in _forgetters:
        _forgetters.append(forgetter)


def forgetters() -> list[Forgetter]:
    return list(_forgetters)
