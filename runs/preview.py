"""The short texts a runs list shows and searches instead of a run's JSON.

Written with what they show: the input's when the run is created, the output's (or the error's)
when it ends. Plain functions of the values, so that a migration can fill them in for old runs.
"""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder

from .models import PREVIEW_CHARS


def input_preview(value) -> str:
    """A user message as itself; any other input as compact JSON."""
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        return _short(value["message"])
    return _short(_text(value))


def output_preview(output, error=None) -> str:
    """The answer of an agent loop, or the error's message, as itself; any other output as JSON."""
    if isinstance(error, dict) and error.get("message"):
        return _short(str(error["message"]))
    if isinstance(output, dict) and isinstance(output.get("answer"), str):
        return _short(output["answer"])
    return _short(_text(output))


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def _short(text: str) -> str:
    text = " ".join(text.split())  # one line: newlines and runs of spaces as single spaces
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"
