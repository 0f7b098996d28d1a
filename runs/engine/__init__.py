"""The run engine: executes runs as durable workflows.

`executor` claims a run and replays its journal through the workflow; `context` is the `ctx` a
workflow calls; `recorder` numbers, replays and writes its steps; `parking` parks a run on a wait;
`steps/` holds one module per kind of step; `lease` keeps a run to one worker at a time. All the
statements the engine writes by hand are in runs.store.
"""

from .executor import execute_queued, execute_run

__all__ = ["execute_queued", "execute_run"]
