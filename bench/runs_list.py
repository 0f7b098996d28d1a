"""The runs list at 100,000 runs: the API's and the page's queries, each filter, deep pages, search.

    python bench/runs_list.py [--runs 100000] [--database-url URL]

Fills a fresh, migrated database (SQLite in a temporary file unless --database-url names one)
with one tenant's runs — a tenth of them by a second user, one in a hundred with a failed tool
call, one in a thousand mentioning "chargeback" — then prints the median time of each list read
(the selector's page of 50, the first page and the 100th).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(database_url: str) -> None:
    os.environ.update(DATABASE_URL=database_url, DEBUG="1", SECRET_KEY="bench", AGENTOPS_ENV_FILE="")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentops.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def fill(count: int):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from agentops.tenancy.models import Membership, Tenant
    from agentops.tenancy.principal import Principal
    from runs.models import Run, RunStatus
    from tests.factories import AgentFactory

    tenant = Tenant.objects.create(slug="bench", name="Bench")
    users = [get_user_model().objects.create(username=name) for name in ("olivia", "sam")]
    membership = Membership.objects.create(tenant=tenant, user=users[0], role="owner")
    Membership.objects.create(tenant=tenant, user=users[1], role="viewer")
    agent = AgentFactory(tenant=tenant, slug="support")
    start = timezone.now() - dt.timedelta(days=30)
    batch = []
    for n in range(count):
        words = "chargeback dispute" if n % 1000 == 7 else f"where is order {n}"
        batch.append(Run(
            tenant=tenant, agent=agent, agent_version=agent.current_version, workflow="agent_loop",
            status=RunStatus.SUCCEEDED, tool_errors=1 if n % 100 == 3 else 0, created_by=users[n % 10 == 1],
            input={"message": words}, output={"answer": "It ships tomorrow."}, input_preview=words,
            output_preview="It ships tomorrow.", thread=f"t-{n % 500}",
        ))
        if len(batch) == 2000:
            _insert(batch, start, n)
            batch = []
    _insert(batch, start, count)
    return Principal(tenant=tenant, user=users[0], membership=membership), users[1]


def _insert(batch, start, n) -> None:
    from runs.models import Run

    created = Run.objects.bulk_create(batch)
    Run.objects.filter(pk__in=[r.pk for r in created]).update(created_at=start + dt.timedelta(seconds=n))


def timed(read, repeat=5) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        read()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--database-url", default=f"sqlite:///{tempfile.mkdtemp()}/runs-list.sqlite3")
    args = parser.parse_args()
    setup(args.database_url)
    from runs.selectors import run_list

    began = time.perf_counter()
    principal, sam = fill(args.runs)
    print(f"{args.runs} runs in {time.perf_counter() - began:.0f} s ({args.database_url.split(':')[0]})")

    def page_100(**filters):
        query, cursor = run_list(principal=principal, **filters), None
        for _ in range(100):
            cursor = query.page(cursor=cursor, size=50).next
        return cursor

    deep = page_100()
    cases = {
        "unfiltered": {}, "user (started by or for)": {"user": sam}, "succeeded with errors": {"status":
        "succeeded_with_errors"}, "agent and version": {"agent": "support", "version": 1}, "thread": {"thread": "t-7"},
        "search, common word": {"q": "order"}, "search, rare word": {"q": "chargeback"},
        "search, no match": {"q": "nonexistent"},
    }
    for name, filters in cases.items():
        first = timed(lambda: run_list(principal=principal, **filters).page(size=50))
        print(f"{name:28} first page {first:7.1f} ms")
    later = timed(lambda: run_list(principal=principal).page(cursor=deep, size=50))
    print(f"{'unfiltered':28} 100th page {later:7.1f} ms")


if __name__ == "__main__":
    main()
