from datetime import datetime, time, timezone

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date

from agentops.audit.services import Actor
from agentops.tenancy.models import Tenant
from runs.costs import costs_recompute


class Command(BaseCommand):
    help = ("Cost tools. `costs recompute --since DATE [--tenant SLUG] [--dry-run]` prices the model calls "
            "made since DATE again with the price table as it is now (after a price correction), and corrects "
            "the runs' totals, the daily usage and the dashboard's rollups; see docs/costs.md.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        recompute = sub.add_parser("recompute", help="Price past model calls again; report (and apply) the changes.")
        recompute.add_argument("--since", required=True, help="From this UTC date (YYYY-MM-DD).")
        recompute.add_argument("--tenant", help="Only this tenant's runs (slug).")
        recompute.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")

    def handle(self, *args, action, since, tenant=None, dry_run=False, **options):
        day = _date(since)
        if day is None:
            raise CommandError(f"--since {since!r} is not a date (YYYY-MM-DD).")
        chosen = None
        if tenant:
            chosen = Tenant.objects.filter(slug=tenant).first()
            if chosen is None:
                raise CommandError(f"No tenant with slug {tenant!r}.")
        result = costs_recompute(since=datetime.combine(day, time(), tzinfo=timezone.utc), tenant=chosen,
                                 dry_run=dry_run, actor=Actor.system("manage.py costs recompute"))
        slugs = dict(Tenant.objects.filter(pk__in=result.steps).values_list("pk", "slug"))
        for tenant_id, slug in sorted(slugs.items(), key=lambda item: item[1]):
            summary = result.summary(tenant_id)
            self.stdout.write(f"{slug}: {summary['steps']} model calls priced again, {summary['changed']} changed "
                              f"in {summary['runs']} runs, cost {_signed(summary['delta'])} USD")
        if not slugs:
            self.stdout.write("No model calls since that date.")
        if dry_run:
            self.stdout.write("Dry run: nothing was written.")


def _date(text: str):
    try:
        return parse_date(text)
    except ValueError:  # the right shape, an impossible date (2026-02-30)
        return None


def _signed(amount: str) -> str:
    return amount if amount.startswith("-") else f"+{amount}"
