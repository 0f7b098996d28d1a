"""`ctx.step` and `ctx.read_step`: any code whose JSON result is journaled and replayed."""

from __future__ import annotations

import json
import traceback

from ...errors import StepFailed
from ...models import StepKind, StepStatus
from ...store import encoded_json
from ..recorder import utc_now


# Our own encoder's text, without json.loads's checks for surrounding whitespace (two regular
# expressions per call: a third of the decoding).
_decode = json.JSONDecoder().raw_decode


def code_step(ctx, name: str, fn, args, kwargs, *, repeatable: bool, kind: str = StepKind.CODE):
    """Run `fn(*args, **kwargs)` once. A `repeatable` step (no side effects) is written with the
    run's next write; any other is written at once, after what it may depend on. `kind` is the
    journal's kind of step (memory accesses are code with a kind of their own)."""
    journal = ctx.journal
    seq, recorded = journal.next(kind, name)
    if recorded is not None:
        if recorded.status == StepStatus.FAILED:
            raise StepFailed(name, recorded.error or {})
        return recorded.output
    if not repeatable:
        journal.write_deferred()  # what this code does may depend on them: they must not be lost
    started_at = utc_now()
    try:
        with ctx.lease.keepalive():  # a step longer than the lease must not be taken over meanwhile
            result = fn(*args, **kwargs)
    except Exception as exc:
        error = {"type": type(exc).__name__, "message": str(exc)[:2000],
                 "traceback": traceback.format_exc(limit=8)[-4000:]}
        journal.insert(seq, kind, name, StepStatus.FAILED, error=error, started_at=started_at)
        raise StepFailed(name, error) from exc
    text = encoded_json(result)  # encoded once, for the row and for replay
    entry = journal.insert(seq, kind, name, StepStatus.COMPLETED, output=text, started_at=started_at,
                           defer=repeatable)
    entry.output = _decode(text)[0]  # exactly what a replay will return
    return entry.output
