"""`/metrics`: the platform's figures in the Prometheus text format (prometheus-client).

Computed at each scrape from the database, not counted in a process's memory: every web and
worker process answers the same figures, whichever a scraper reaches. Seven queries, each cheap
whatever the number of runs: the unfinished runs through the (status, created_at) index, and
sums of the rollups the engine writes as runs end (runs.rollups) and of the daily usage
counters; the pending approval requests through their (tenant, status, ...) index; the task
queue's depth from its broker. Counters are totals since the rollups began (a retried run is
taken back out, and a purge lowers them: Prometheus treats a drop as a reset).

Access: with `METRICS_TOKEN` set, only `Authorization: Bearer <token>` (compared in constant
time; 401 otherwise); without it, only clients on the loopback address (403 for others).
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.db.models import Count, Min, Sum
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe
from django_q.brokers import get_broker
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from approvals.models import ApprovalRequest, ApprovalStatus
from runs.models import (LATENCY_BOUNDS_MS, LATENCY_BUCKETS, UNFINISHED_STATUSES, DailyUsage, ModelCallRollup, Run,
                         RunRollup, RunStatus, ToolRollup)

SUMMED = ("duration_ms", *LATENCY_BUCKETS)


def _histogram(row: dict) -> tuple[list[tuple[str, float]], float]:
    """Prometheus's cumulative buckets (`le` in seconds) and sum from a rollup row's buckets."""
    buckets, seen = [], 0
    for bound, name in zip([*LATENCY_BOUNDS_MS, None], LATENCY_BUCKETS):
        seen += row[name] or 0
        buckets.append(("+Inf" if bound is None else repr(bound / 1000), seen))
    return buckets, (row["duration_ms"] or 0) / 1000


class PlatformCollector:
    """Reads the figures at each `collect()` (a scrape)."""

    def collect(self):
        yield from self._unfinished_runs()
        yield from self._ended_runs()
        yield from self._tool_calls()
        yield from self._model_calls()
        yield from self._usage()
        yield from self._approvals()
        yield self._task_queue()

    def _unfinished_runs(self):
        runs = GaugeMetricFamily("agentops_runs_unfinished", "Runs queued, running or waiting now.",
                                 labels=["tenant", "status"])
        oldest = GaugeMetricFamily("agentops_oldest_queued_run_age_seconds",
                                   "Age of the oldest queued run (0 with none queued).", labels=["tenant"])
        now = timezone.now()
        rows = (Run.objects.filter(status__in=UNFINISHED_STATUSES).values("tenant__slug", "status")
                .annotate(n=Count("pk"), oldest=Min("created_at")).order_by())
        for row in rows:
            runs.add_metric([row["tenant__slug"], row["status"]], row["n"])
            if row["status"] == RunStatus.QUEUED:
                oldest.add_metric([row["tenant__slug"]], (now - row["oldest"]).total_seconds())
        return runs, oldest

    def _ended_runs(self):
        ended = CounterMetricFamily("agentops_runs_ended", "Runs ended, by outcome.",
                                    labels=["tenant", "agent", "outcome"])
        failures = CounterMetricFamily("agentops_run_failures", "Failed runs, by error code (model and tool "
                                       "errors included).", labels=["tenant", "agent", "code"])
        duration = HistogramMetricFamily("agentops_run_duration_seconds", "Ended runs, creation to end.",
                                         labels=["tenant", "agent"])
        rows = (RunRollup.objects.values("tenant__slug", "agent__slug", "outcome", "error_code")
                .annotate(runs=Sum("runs"), **{name: Sum(name) for name in SUMMED}).order_by())
        by_agent: dict[tuple, dict] = {}
        for row in rows:
            labels = [row["tenant__slug"], row["agent__slug"]]
            ended.add_metric([*labels, row["outcome"]], row["runs"])
            if row["outcome"] == RunStatus.FAILED:
                failures.add_metric([*labels, row["error_code"] or "unknown"], row["runs"])
            total = by_agent.setdefault(tuple(labels), dict.fromkeys(SUMMED, 0))
            for name in SUMMED:
                total[name] += row[name] or 0
        for labels, total in by_agent.items():
            duration.add_metric(list(labels), *_histogram(total))
        return ended, failures, duration

    def _tool_calls(self):
        calls = CounterMetricFamily("agentops_tool_calls", "Tool calls of ended runs.", labels=["tenant", "tool"])
        errors = CounterMetricFamily("agentops_tool_errors", "Tool calls that did not complete.",
                                     labels=["tenant", "tool"])
        duration = HistogramMetricFamily("agentops_tool_call_duration_seconds", "Tool steps, start to end.",
                                         labels=["tenant", "tool"])
        rows = (ToolRollup.objects.values("tenant__slug", "tool")
                .annotate(calls=Sum("calls"), errors=Sum("errors"), **{name: Sum(name) for name in SUMMED}).order_by())
        for row in rows:
            labels = [row["tenant__slug"], row["tool"]]
            calls.add_metric(labels, row["calls"])
            errors.add_metric(labels, row["errors"])
            duration.add_metric(labels, *_histogram(row))
        return calls, errors, duration

    def _model_calls(self):
        errors = CounterMetricFamily("agentops_model_call_errors", "Model calls of ended runs that failed.",
                                     labels=["tenant", "model"])
        duration = HistogramMetricFamily("agentops_model_call_duration_seconds",
                                         "Model steps of ended runs, start to end.", labels=["tenant", "model"])
        rows = (ModelCallRollup.objects.values("tenant__slug", "model")
                .annotate(errors=Sum("errors"), **{name: Sum(name) for name in SUMMED}).order_by())
        for row in rows:
            labels = [row["tenant__slug"], row["model"]]
            errors.add_metric(labels, row["errors"])
            duration.add_metric(labels, *_histogram(row))
        return errors, duration

    def _usage(self):
        model_calls = CounterMetricFamily("agentops_model_calls", "Model calls.", labels=["tenant", "agent"])
        tokens = CounterMetricFamily("agentops_tokens", "Model tokens.", labels=["tenant", "agent", "direction"])
        cost = CounterMetricFamily("agentops_cost_usd", "Cost of model calls, USD.", labels=["tenant", "agent"])
        rows = (DailyUsage.objects.values("tenant__slug", "agent__slug")
                .annotate(calls=Sum("model_calls"), tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"),
                          cost=Sum("cost")).order_by())
        for row in rows:
            labels = [row["tenant__slug"], row["agent__slug"]]
            model_calls.add_metric(labels, row["calls"])
            tokens.add_metric([*labels, "in"], row["tokens_in"])
            tokens.add_metric([*labels, "out"], row["tokens_out"])
            cost.add_metric(labels, float(row["cost"]))
        return model_calls, tokens, cost

    def _approvals(self):
        pending = GaugeMetricFamily("agentops_approvals_pending", "Approval requests waiting for a decision.",
                                    labels=["tenant"])
        oldest = GaugeMetricFamily("agentops_oldest_pending_approval_age_seconds",
                                   "Age of the oldest pending approval request.", labels=["tenant"])
        now = timezone.now()
        rows = (ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING).values("tenant__slug")
                .annotate(n=Count("pk"), oldest=Min("created_at")).order_by())
        for row in rows:
            pending.add_metric([row["tenant__slug"]], row["n"])
            oldest.add_metric([row["tenant__slug"]], (now - row["oldest"]).total_seconds())
        return pending, oldest

    def _task_queue(self):
        depth = GaugeMetricFamily("agentops_task_queue_depth", "Tasks waiting in the task queue's broker.")
        depth.add_metric([], get_broker().queue_size())
        return depth


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(PlatformCollector())


@require_safe
def metrics(request):
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


def _refusal(request) -> HttpResponse | None:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return None
        response = HttpResponse("A valid bearer token is needed (METRICS_TOKEN).\n", status=401,
                                content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if _is_loopback(request.META.get("REMOTE_ADDR", "")):
        return None
    return HttpResponse("Metrics are served to loopback clients only unless METRICS_TOKEN is set.\n", status=403,
                        content_type="text/plain")


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback
