"""`{{ name }}` placeholders in case messages and assertion values, filled from the case's vars
(promptfoo's Nunjucks templates, reduced to plain substitution: no logic runs)."""

from __future__ import annotations

import json
import re
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def render(value: Any, variables: dict) -> Any:
    """`value` with the placeholders of its strings (nested in lists and objects too) replaced;
    an unknown name is left as written."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda match: _text(variables.get(match.group(1), match.group(0))), value)
    if isinstance(value, list):
        return [render(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: render(item, variables) for key, item in value.items()}
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
