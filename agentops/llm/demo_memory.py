"""How the offline demo model answers the engine's thread and memory prompts
(agentops.llm.memory_prompts): it summarises a thread from what the user said, picks the user's
stated preferences and name out of a turn, and reads the recalled memory block of a prompt."""

from __future__ import annotations

import json
import re

from . import demo_text as text
from .memory_prompts import EXTRACT_INSTRUCTIONS, MEMORY_BLOCK_INTRO, SUMMARISE_INSTRUCTIONS

PREFERENCE = re.compile(r"\bI(?:'d| would)? (?:prefer|rather|like to be contacted|want to be contacted)\s+"
                        r"(?:by |via |through |to be contacted by )?([^.!?\n]+)", re.IGNORECASE)
NAME = re.compile(r"\bmy name is ([A-Z][\w'-]+)")
ITEM = re.compile(r"^- \[(\w+)\] (.+)$", re.MULTILINE)


def memory_answer(messages: list[dict]) -> str | None:
    """The answer to a summarising or extracting request; None for any other conversation."""
    system = messages[0].get("content") if messages and messages[0].get("role") == "system" else None
    request = messages[-1].get("content") if messages else ""
    if system == SUMMARISE_INSTRUCTIONS:
        return summary_of(request)
    if system == EXTRACT_INSTRUCTIONS:
        return json.dumps({"memories": memories_in(request)})
    return None


def _user_lines(transcript: str) -> list[str]:
    return [line[len("User: "):] for line in transcript.splitlines() if line.startswith("User: ")]


def summary_of(transcript: str) -> str:
    said = "; ".join(text.first_sentence(line, 120) for line in _user_lines(transcript))
    return f"Earlier in this thread the user said: {said}." if said else "Nothing of note was said yet."


def memories_in(transcript: str) -> list[dict]:
    said = " ".join(_user_lines(transcript))
    found = [{"content": f"Prefers {match.group(1).strip()}", "kind": "preference"}
             for match in PREFERENCE.finditer(said)]
    found += [{"content": f"Their name is {match.group(1)}", "kind": "fact"} for match in NAME.finditer(said)]
    return found


def preference_noted(request: str) -> str | None:
    """The answer to a message that only states a preference."""
    stated = [match.group(1).strip() for match in PREFERENCE.finditer(request)]
    return f"Noted: you prefer {' and '.join(stated)}. I will keep it in mind." if stated else None


def remembered(messages: list[dict]) -> list[str]:
    """The contents of the items in the prompt's recalled-memory block."""
    for message in messages:
        content = message.get("content")
        if message.get("role") == "system" and isinstance(content, str) and content.startswith(MEMORY_BLOCK_INTRO):
            return [match.group(2) for match in ITEM.finditer(content)]
    return []


def with_memory(answer: str, items: list[str]) -> str:
    """The answer, followed by what the model remembers of the user."""
    if not items:
        return answer
    return f"{answer}\n\nWhat I remember about you: {'; '.join(items)}."
