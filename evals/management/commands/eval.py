"""`manage.py eval`: run a suite as a CI gate, list suites, compare eval runs, import and export.

Exit status: 0 when the gate holds (or the action succeeded), 1 when the gate fails, 2 on a usage
error (unknown suite, eval run or tenant, bad file, bad flag).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from agentops.audit.services import Actor
from agentops.tenancy.models import Membership, Tenant
from agentops.tenancy.principal import Principal
from agentops.tenancy.roles import Role
from evals import datasets, reports, stats
from evals.errors import EvalError
from evals.models import EvalRun
from evals.selectors import eval_run_get, eval_run_list, suite_get, suite_list
from evals.services import compare_eval_runs, eval_run_advance, eval_run_wait, run_eval
from runs.models import Run

USAGE = 2
GATE_FAILED = 1
# How long the first cases may wait for a worker before the command runs them itself.
WORKER_WAIT_SECONDS = 3.0


def usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=USAGE)


class Command(BaseCommand):
    help = "Evaluations: eval run SUITE | list | compare A B | import FILE | export SUITE (docs/evals.md)."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        run = actions.add_parser("run", help="Run a suite; exit 1 when the gate fails.")
        run.add_argument("suite")
        run.add_argument("--agent-version", type=int, help="The agent's version number (default: its current one).")
        run.add_argument("--repeat", type=int, default=1, help="Runs per case (default 1).")
        run.add_argument("--baseline", help="Compare with: latest, an eval run id, or a label.")
        run.add_argument("--label", default="", help="Name this eval run, to compare with it later.")
        run.add_argument("--min-pass-rate", type=float, help="Pass rate the gate needs (default: every case passes).")
        run.add_argument("--fail-on-regression", action="store_true", help="Fail the gate on any regressed case.")
        run.add_argument("--format", choices=reports.FORMATS, default="table")
        run.add_argument("--output", help="File to write the report to (default: stdout).")
        run.add_argument("--user", help="Who runs the cases (default: the tenant's first owner or operator).")
        run.add_argument("--inline", action="store_true", help="Execute the cases in this process, not on workers.")
        run.add_argument("--timeout", type=float, default=3600, help="Seconds to wait for the end (default 3600).")
        listing = actions.add_parser("list", help="The tenant's suites and their last eval run.")
        compare = actions.add_parser("compare", help="Compare eval run B with eval run A (the baseline).")
        compare.add_argument("a")
        compare.add_argument("b")
        compare.add_argument("--format", choices=("table", "json"), default="table")
        compare.add_argument("--fail-on-regression", action="store_true")
        load = actions.add_parser("import", help="Add the cases of a promptfoo YAML or JSONL file to a suite.")
        load.add_argument("file")
        load.add_argument("--suite", required=True)
        load.add_argument("--agent", required=True, help="The agent the suite evaluates (slug).")
        load.add_argument("--format", choices=datasets.FORMATS, help="Default: from the file's extension.")
        export = actions.add_parser("export", help="Write a suite as promptfoo YAML or JSONL.")
        export.add_argument("suite")
        export.add_argument("--format", choices=datasets.FORMATS, default="yaml")
        export.add_argument("--output", help="File to write (default: stdout).")
        for subparser in (run, listing, compare, load, export):
            subparser.add_argument("--tenant", default="demo", help="Tenant slug (default: demo).")

    def handle(self, *args, action, tenant, **options):
        slug, tenant = tenant, Tenant.objects.filter(slug=tenant).first()
        if tenant is None:
            raise usage_error(f"No tenant {slug!r}.")
        try:
            getattr(self, f"_{action}")(tenant, **options)
        except EvalError as error:
            raise usage_error(error.message) from error

    # run ------------------------------------------------------------------------------------------

    def _run(self, tenant, *, suite, agent_version, repeat, baseline, label, min_pass_rate, fail_on_regression,
             format, output, user, inline, timeout, **options):
        if min_pass_rate is not None and not 0 <= min_pass_rate <= 1:
            raise usage_error("--min-pass-rate is a fraction from 0 to 1, e.g. 0.9")
        found = suite_get(tenant=tenant, name=suite)
        if found is None:
            raise usage_error(f"No suite {suite!r} in tenant {tenant.slug}; see `manage.py eval list`.")
        logging.getLogger("django-q").setLevel(logging.WARNING)  # a line per queued task would drown the report
        eval_run = run_eval(principal=self._principal(tenant, user), suite=found, version=agent_version,
                            repeat=repeat, baseline=baseline, label=label, start=False)
        self.stderr.write(f"eval run {eval_run.pk}: {eval_run.total} run(s) of {found.name}")
        eval_run = eval_run_wait(eval_run=eval_run, inline=inline or not self._workers_take(eval_run),
                                 timeout=timeout, on_progress=self._progress)
        self.stderr.write(f"  {eval_run.done}/{eval_run.total} scored")
        failures = self._gate(eval_run, min_pass_rate, fail_on_regression)
        self._write(reports.report(eval_run, format=format, gate_failures=failures), output)
        if failures:
            raise CommandError("gate failed: " + "; ".join(failures), returncode=GATE_FAILED)

    def _workers_take(self, eval_run: EvalRun) -> bool:
        """Start the first cases and see whether a worker claims one: else run them here."""
        eval_run_advance(eval_run_id=eval_run.pk)
        runs = Run.objects.filter(pk__in=eval_run.results.exclude(run=None).values("run"))
        deadline = time.monotonic() + WORKER_WAIT_SECONDS
        while time.monotonic() < deadline:
            if runs.filter(executions__gt=0).exists():
                return True
            time.sleep(0.1)
        self.stderr.write("no worker took the cases: running them in this process")
        return False

    def _progress(self, eval_run: EvalRun) -> None:
        self.stderr.write(f"  {eval_run.done}/{eval_run.total}", ending="\r")

    @staticmethod
    def _gate(eval_run: EvalRun, min_pass_rate, fail_on_regression) -> list[str]:
        if eval_run.status != "succeeded":
            return [f"the eval run {eval_run.status}: {(eval_run.error or {}).get('message', '')}"]
        return stats.gate(eval_run.summary, min_pass_rate=min_pass_rate, fail_on_regression=fail_on_regression)

    def _principal(self, tenant, username) -> Principal:
        memberships = Membership.objects.filter(tenant=tenant).select_related("user")
        if username:
            membership = memberships.filter(user__username=username).first()
        else:
            membership = memberships.filter(role__in=[Role.OWNER, Role.OPERATOR]).order_by("pk").first()
        if membership is None or not membership.grants("run_agents"):
            raise usage_error(f"No member of {tenant.slug} who may run agents; name one with --user.")
        return Principal(tenant=tenant, user=membership.user, membership=membership)

    # list, compare ----------------------------------------------------------------------------------

    def _list(self, tenant, **options):
        for suite in suite_list(tenant=tenant):
            last = eval_run_list(tenant=tenant, suite=suite).first()
            state = (f"last eval run {last.pk} {last.status}, pass rate {last.summary.get('pass_rate', 0):.0%}"
                     if last else "never run")
            self.stdout.write(f"{suite.name:<30} {suite.agent.slug:<20} {suite.cases.count():>4} case(s)  {state}")

    def _compare(self, tenant, *, a, b, format, fail_on_regression, **options):
        runs = [eval_run_get(tenant=tenant, eval_run_id=ref) for ref in (a, b)]
        if None in runs:
            raise usage_error(f"No eval run {(a, b)[runs.index(None)]!r} in tenant {tenant.slug}.")
        result = compare_eval_runs(*runs)
        if format == "json":
            self.stdout.write(json.dumps(result, indent=2))
        else:
            for case in result["cases"]:
                self.stdout.write(f"{case['name'][:40]:<40} {case['before'] or '-':<8} → {case['after']:<8} "
                                  f"{case['change']}")
            self.stdout.write(", ".join(f"{n} {k}" for k, n in result["counts"].items())
                              + f"; pass rate {result['pass_rate_delta']:+.2%}")
        if fail_on_regression and result["counts"]["regressed"]:
            raise CommandError(f"{result['counts']['regressed']} case(s) regressed", returncode=GATE_FAILED)

    # import, export -------------------------------------------------------------------------------

    def _import(self, tenant, *, file, suite, agent, format, **options):
        path = Path(file)
        if not path.is_file():
            raise usage_error(f"No file {file}.")
        format = format or ("jsonl" if path.suffix in (".jsonl", ".ndjson") else "yaml")
        found, added = datasets.suite_import(tenant=tenant, name=suite, agent_slug=agent,
                                             text=path.read_text(encoding="utf-8"), format=format,
                                             actor=Actor.system(f"manage.py eval import {path.name}"))
        self.stdout.write(f"{added} case(s) imported into suite {found.name} ({found.cases.count()} in all)")

    def _export(self, tenant, *, suite, format, output, **options):
        found = suite_get(tenant=tenant, name=suite)
        if found is None:
            raise usage_error(f"No suite {suite!r} in tenant {tenant.slug}.")
        self._write(datasets.suite_export(found, format=format), output)

    def _write(self, text: str, output: str | None) -> None:
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stderr.write(f"written to {output}")
        else:
            self.stdout.write(text, ending="")
