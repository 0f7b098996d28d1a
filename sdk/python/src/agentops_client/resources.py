"""The API's resources, written once for both clients: each method describes its request (a
`Call`) and hands it to the client, which sends it (`AgentOps`) or returns an awaitable
(`AsyncAgentOps`). Lists return pagers that follow the API's `next` links as you iterate."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ._base import Call, Page, drop_none, new_idempotency_key, relative
from .models import (
    Agent,
    ApprovalRequest,
    EvalCase,
    EvalResult,
    EvalRun,
    EvalSuite,
    MemoryItem,
    MemorySearchResult,
    Run,
    Step,
    Tool,
)
from .streaming import EventStream, events_call


def link_page(model):
    """Parses a `{"next", "results"}` answer into a Page whose `next` is the link to follow."""
    return lambda body: Page([model.from_dict(item) for item in body["results"]], relative(body.get("next")))


class Resource:
    def __init__(self, client) -> None:
        self._client = client

    def _list(self, path: str, model, params: Dict[str, Any]):
        """A pager over a list that links its pages (`next`): the first request carries the filters,
        the next ones follow the links as given."""
        parse = link_page(model)

        def fetch(link: Optional[str]):
            return self._client._send(Call("GET", link, parse=parse) if link else
                                      Call("GET", path, params=drop_none(params), parse=parse))

        return self._client._pager(fetch)


class Runs(Resource):
    def create(self, *, agent: str, message: Optional[str] = None, input: Optional[Dict[str, Any]] = None,
               thread: Optional[str] = None, on_behalf_of: Optional[str] = None,
               metadata: Optional[Dict[str, Any]] = None, version: Optional[int] = None,
               idempotency_key: Optional[str] = None, stream: bool = False):
        """Start a run of `agent` with a `message` or an `input` object. The idempotency key (one is
        made when not given) is sent with every retry, so a retried create never starts a second
        run. With `stream=True`, returns the run's events (see `stream`) instead of the run."""
        body = drop_none({"agent": agent, "message": message, "input": input, "thread": thread,
                          "on_behalf_of": on_behalf_of, "metadata": metadata, "version": version})
        headers = {"Idempotency-Key": idempotency_key or new_idempotency_key()}
        if not stream:
            return self._client._send(Call("POST", "/runs/", json=body, headers=headers, parse=Run.from_dict))
        start = Call("POST", "/runs/", json={**body, "stream": True}, stream=True,
                     headers={**headers, "Accept": "text/event-stream"})
        return self._client._stream(EventStream(start=start, run_id=None, after=None,
                                                max_retries=self._client.max_retries))

    def get(self, run_id: str):
        return self._client._send(Call("GET", f"/runs/{run_id}/", parse=Run.from_dict))

    def list(self, *, agent: Optional[str] = None, status: Optional[str] = None, thread: Optional[str] = None,
             version: Optional[int] = None, q: Optional[str] = None, limit: Optional[int] = None):
        """The tenant's runs, newest first, every page as you iterate (filters as in the API)."""
        return self._list("/runs/", Run, {"agent": agent, "status": status, "thread": thread, "version": version,
                                          "q": q, "limit": limit})

    def cancel(self, run_id: str):
        return self._client._send(Call("POST", f"/runs/{run_id}/cancel/", parse=Run.from_dict, replayable=False))

    def steps(self, run_id: str, *, after: Optional[int] = None, limit: Optional[int] = None):
        """The run's journal in order from the step after seq `after`, a page at a time as you iterate."""
        def parse(body):
            return Page([Step.from_dict(step) for step in body["steps"]], body["next"])

        def fetch(cursor: Optional[int]):
            params = drop_none({"after": cursor if cursor is not None else after, "limit": limit})
            return self._client._send(Call("GET", f"/runs/{run_id}/steps/", params=params, parse=parse))

        return self._client._pager(fetch)

    def wait(self, run_id: str, *, timeout: Optional[float] = 300.0, poll_interval: float = 0.5):
        """The run once it has ended (succeeded, failed or cancelled); raises RunWaitTimeout after
        `timeout` seconds (None: no limit). A waiting run keeps this waiting: see `stream`."""
        return self._client._wait(lambda: self.get(run_id), timeout=timeout, poll_interval=poll_interval)

    def stream(self, run_id: str, *, after: Optional[int] = None):
        """The run's events as they happen, until its `end`; from the step after seq `after` if given.
        A dropped connection is resumed where it stopped (Last-Event-ID)."""
        return self._client._stream(EventStream(start=events_call(run_id), run_id=run_id, after=after,
                                                max_retries=self._client.max_retries))


class Approvals(Resource):
    def list(self, *, status: Optional[str] = None, limit: Optional[int] = None):
        """Requests you may decide, oldest first (`status="pending"` for your queue)."""
        return self._list("/approvals/", ApprovalRequest, {"status": status, "limit": limit})

    def get(self, request_id: int):
        return self._client._send(Call("GET", f"/approvals/{request_id}/", parse=ApprovalRequest.from_dict))

    def approve(self, request_id: int, *, seen_hash: str, arguments: Optional[Dict[str, Any]] = None,
                comment: Optional[str] = None):
        """Approve the request as seen (`seen_hash`), optionally with edited `arguments`."""
        return self._decide(request_id, "approve", {"seen_hash": seen_hash, "arguments": arguments,
                                                    "comment": comment})

    def reject(self, request_id: int, *, seen_hash: str, comment: Optional[str] = None):
        return self._decide(request_id, "reject", {"seen_hash": seen_hash, "comment": comment})

    def _decide(self, request_id: int, verdict: str, body: Dict[str, Any]):
        # Not replayable: a decision repeated after it reached the server answers already_decided.
        return self._client._send(Call("POST", f"/approvals/{request_id}/{verdict}/", json=drop_none(body),
                                       parse=ApprovalRequest.from_dict, replayable=False))


class Agents(Resource):
    def list(self, *, limit: Optional[int] = None):
        return self._list("/agents/", Agent, {"limit": limit})

    def get(self, slug: str):
        return self._client._send(Call("GET", f"/agents/{slug}/", parse=Agent.from_dict))


class Tools(Resource):
    def list(self, *, limit: Optional[int] = None):
        return self._list("/tools/", Tool, {"limit": limit})


class Memory(Resource):
    """Long-term memory items (scopes `user`, `agent`, `tenant`) you may see and write."""

    def list(self, *, scope: Optional[str] = None, subject: Optional[str] = None, kind: Optional[str] = None,
             since: Optional[str] = None, limit: Optional[int] = None):
        """Newest first, every page as you iterate."""
        return self._list("/memory/", MemoryItem, {"scope": scope, "subject": subject, "kind": kind, "since": since,
                                                   "limit": limit})

    def get(self, item_id: int):
        return self._client._send(Call("GET", f"/memory/{item_id}/", parse=MemoryItem.from_dict))

    def create(self, *, scope: str, content: str, subject: Optional[str] = None, kind: Optional[str] = None,
               metadata: Optional[Dict[str, Any]] = None, expires_at: Optional[str] = None):
        """Save an item; one that says the same thing as an existing item is merged into it."""
        body = drop_none({"scope": scope, "subject": subject, "kind": kind, "content": content,
                          "metadata": metadata, "expires_at": expires_at})
        return self._client._send(Call("POST", "/memory/", json=body, parse=MemoryItem.from_dict, replayable=False))

    def update(self, item_id: int, *, content: Optional[str] = None, kind: Optional[str] = None,
               metadata: Optional[Dict[str, Any]] = None, expires_at: Optional[str] = None):
        body = drop_none({"content": content, "kind": kind, "metadata": metadata, "expires_at": expires_at})
        return self._client._send(Call("PATCH", f"/memory/{item_id}/", json=body, parse=MemoryItem.from_dict))

    def delete(self, item_id: int):
        return self._client._send(Call("DELETE", f"/memory/{item_id}/", replayable=False))

    def search(self, q: str, *, scope: Optional[str] = None, subject: Optional[str] = None,
               kind: Optional[str] = None, metadata: Optional[str] = None, since: Optional[str] = None,
               limit: Optional[int] = None):
        """The items that best answer `q`, best first (`metadata`: "key=value")."""
        params = drop_none({"q": q, "scope": scope, "subject": subject, "kind": kind, "metadata": metadata,
                            "since": since, "limit": limit})
        return self._client._send(Call("GET", "/memory/search/", params=params, parse=lambda body: [
            MemorySearchResult.from_dict(item) for item in body["results"]]))

    def forget(self, *, user: Optional[str] = None, thread: Optional[str] = None):
        """Erase everything about a user or a thread (owners); the counts of what was erased."""
        body = {"scope": "user", "subject": user} if user is not None else {"thread": thread}
        return self._client._send(Call("POST", "/memory/forget/", json=body, replayable=False))


class Evals(Resource):
    """Eval suites, their cases, eval runs (executed by the workers), results and comparisons."""

    def list_suites(self):
        return self._list("/evals/suites/", EvalSuite, {})

    def create_suite(self, *, name: str, agent: str, cases: Optional[List[Dict[str, Any]]] = None,
                     description: Optional[str] = None, default_assertions: Optional[List[Dict[str, Any]]] = None,
                     default_vars: Optional[Dict[str, Any]] = None):
        """A new suite of `agent` (its cases, if given, land in `.extra["cases"]`)."""
        body = drop_none({"name": name, "agent": agent, "cases": cases, "description": description,
                          "default_assertions": default_assertions, "default_vars": default_vars})
        return self._client._send(Call("POST", "/evals/suites/", json=body, parse=EvalSuite.from_dict,
                                       replayable=False))

    def add_cases(self, suite_id: int, cases: List[Dict[str, Any]]):
        """Append cases to the suite, in order; the cases as saved."""
        return self._client._send(Call("POST", f"/evals/suites/{suite_id}/cases/", json={"cases": cases},
                                       replayable=False, parse=lambda body: [EvalCase.from_dict(c) for c in body]))

    def start(self, *, suite: int, agent_version: Optional[int] = None, repeat: Optional[int] = None,
              baseline: Optional[str] = None, label: Optional[str] = None):
        """Queue an eval run of every case of `suite` (`baseline`: an eval run's id, label or "latest")."""
        body = drop_none({"suite": suite, "agent_version": agent_version, "repeat": repeat, "baseline": baseline,
                          "label": label})
        return self._client._send(Call("POST", "/evals/runs/", json=body, parse=EvalRun.from_dict, replayable=False))

    def list_runs(self, *, suite: Optional[int] = None):
        return self._list("/evals/runs/", EvalRun, {"suite": suite})

    def get_run(self, eval_run_id: int):
        return self._client._send(Call("GET", f"/evals/runs/{eval_run_id}/", parse=EvalRun.from_dict))

    def results(self, eval_run_id: int):
        """The eval run's results, case by case and repeat by repeat, every page as you iterate."""
        return self._list(f"/evals/runs/{eval_run_id}/", EvalResult, {})

    def compare(self, eval_run_id: int, *, baseline: Optional[str] = None):
        """The eval run against its baseline (or `baseline`), case by case: the API's comparison object."""
        return self._client._send(Call("GET", f"/evals/runs/{eval_run_id}/comparison/",
                                       params=drop_none({"baseline": baseline})))
