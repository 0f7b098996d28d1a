"""The reference syntax `{{ secret:NAME }}` and the names it may use.

A stored configuration (a tool's, a webhook's) holds references, never values; they are resolved
at call time (agentops.secrets.resolver). A tenant's secrets are stored under the same names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_.\-]*"
NAME_MAX_LENGTH = 100
NAME = re.compile(NAME_PATTERN)
REFERENCE = re.compile(r"\{\{\s*secret\s*:\s*(" + NAME_PATTERN + r")\s*\}\}")


def valid_name(name: str) -> bool:
    return isinstance(name, str) and len(name) <= NAME_MAX_LENGTH and NAME.fullmatch(name) is not None


def references(config: Any) -> set[str]:
    """The names of all secrets referenced in the string values of `config`, at any depth."""
    found: set[str] = set()
    walk_strings(config, lambda s: found.update(REFERENCE.findall(s)))
    return found


def walk_strings(obj: Any, visit) -> None:
    if isinstance(obj, str):
        visit(obj)
    elif isinstance(obj, Mapping):
        for value in obj.values():
            walk_strings(value, visit)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            walk_strings(value, visit)
