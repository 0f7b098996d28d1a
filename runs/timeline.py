"""The trace viewer's timeline: which steps a page shows next, and where they sit in time.

A page shows the journal in seq order, a page of steps at a time. It carries its position in
the URL of its next catch-up request (a `Tail`): the last seq it shows, the steps it shows that
may still change (a tool call running, an approval waiting) with the state it shows them in,
and the run status. Answering that request costs the same few queries however long the run is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from .journal_view import step_views
from .models import Run
from .selectors import (
    UNSETTLED_STEP_STATUSES,
    child_runs_for_steps,
    step_list,
    waits_for_steps,
)

MAX_PENDING = 50  # steps a live page re-reads per request; a run rarely has more than one open
# Steps a page adds at a time. Rendering a step's row and body is most of a page's cost, so a
# page stays small; "Show more steps" (or a live page's catch-up) brings the next by keyset.
TRACE_PAGE_SIZE = 50


@dataclass
class Tail:
    """Where a trace page stands in the journal, carried in the URL of its next catch-up request.

    `after`: the last seq shown; `pending`: {seq: "status:attempt"} of shown steps that may
    still change. The URL also carries the run status shown, to re-send what depends on it.
    """

    run: Run
    after: int = 0
    pending: dict[int, str] = field(default_factory=dict)
    has_more: bool = False
    embedded: bool = False

    @property
    def live(self) -> bool:
        return not self.run.is_finished and not self.embedded

    @property
    def url(self) -> str:
        params = {"after": self.after, "status": self.run.status}
        if self.pending:
            params["pending"] = ",".join(f"{seq}:{marker}" for seq, marker in sorted(self.pending.items()))
        return reverse("runs:steps", args=[self.run.pk]) + "?" + urlencode(params)

    @property
    def socket_path(self) -> str:
        return f"/ws/runs/{self.run.pk}/"


def _marker(step) -> str:
    return f"{step.status}:{step.attempt}"


def parse_pending(text: str) -> dict[int, str]:
    """`pending` of a tail URL ("12:started:1,15:waiting:1") back to {seq: marker}; junk is ignored."""
    pending = {}
    for item in (text or "").split(",")[:MAX_PENDING]:
        seq, _, marker = item.partition(":")
        if seq.isdigit() and marker:
            pending[int(seq)] = marker
    return pending


def parse_after(text: str | None) -> int:
    """`after` of a tail URL; anything but a non-negative integer means the start."""
    try:
        return max(0, int(text or 0))
    except ValueError:
        return 0


def timeline_page(*, run: Run, after: int = 0, pending: dict | None = None, embedded: bool = False) -> dict:
    """The steps a page adds (after `after`) and re-renders (pending ones that changed), placed on
    the run's time scale, and the tail for the next request. Four queries at most."""
    pending = dict(pending or {})
    steps = step_list(run=run, after_seq=after, limit=TRACE_PAGE_SIZE + 1, also_seqs=pending)
    found = {s.seq for s in steps}
    pending = {seq: marker for seq, marker in pending.items() if seq in found}  # a vanished step stops being asked for
    new = [s for s in steps if s.seq > after]
    has_more = len(new) > TRACE_PAGE_SIZE
    new = new[:TRACE_PAGE_SIZE]
    changed = [s for s in steps if s.seq in pending and _marker(s) != pending[s.seq]]
    shown = new + changed
    views = step_views(
        shown,
        children=child_runs_for_steps(run=run, steps=shown),
        approvals=waits_for_steps(run=run, steps=shown),
    )
    scale = _scale(run)
    for view in views:
        view.bar = _bar(view.step, scale)
    for step in shown:
        pending.pop(step.seq, None)
        if step.status in UNSETTLED_STEP_STATUSES:
            pending[step.seq] = _marker(step)
    tail = Tail(run=run, after=new[-1].seq if new else after, pending=pending, has_more=has_more, embedded=embedded)
    by_seq = {view.step.seq: view for view in views}
    return {
        "new_steps": [by_seq[s.seq] for s in new],
        "changed_steps": [by_seq[s.seq] for s in changed],
        "tail": tail,
        "scale": scale,
    }


def _scale(run: Run) -> dict:
    """The run's span in ms: from its start to its end (or now, while it is not finished)."""
    start = run.started_at or run.created_at
    end = run.finished_at or timezone.now()
    return {"start": start, "end": end, "span_ms": max(1, int((end - start).total_seconds() * 1000))}


def _bar(step, scale: dict) -> dict:
    """Offset and length of the step's bar in ms; an open step (no end yet) runs to the scale's end."""
    t0 = max(0, int((step.started_at - scale["start"]).total_seconds() * 1000))
    if step.finished_at is None:
        return {"t0": t0, "dur": max(0, scale["span_ms"] - t0), "open": True}
    return {"t0": t0, "dur": max(0, int((step.finished_at - step.started_at).total_seconds() * 1000)), "open": False}
