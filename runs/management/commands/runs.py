from django.core.management.base import BaseCommand, CommandError

from agentops.tenancy.models import Tenant
from runs.retention import payloads_purge


class Command(BaseCommand):
    help = ("Run maintenance. `runs purge-payloads [--tenant SLUG] [--dry-run]` purges the payloads of runs past "
            "their tenant's retention (runs on legal hold are kept), as the daily schedule does; see docs/costs.md.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        purge = sub.add_parser("purge-payloads", help="Purge step payloads past the tenants' retention now.")
        purge.add_argument("--tenant", help="Only this tenant (slug).")
        purge.add_argument("--dry-run", action="store_true", help="Count the runs that would be purged; write nothing.")

    def handle(self, *args, action, tenant=None, dry_run=False, **options):
        chosen = None
        if tenant:
            chosen = Tenant.objects.filter(slug=tenant).first()
            if chosen is None:
                raise CommandError(f"No tenant with slug {tenant!r}.")
            if chosen.payload_retention_days is None:
                raise CommandError(f"Tenant {tenant!r} keeps payloads forever (no payload_retention_days set).")
        results = payloads_purge(tenant=chosen, dry_run=dry_run)
        verb = "would be purged" if dry_run else "purged"
        for slug, runs in results.items():
            self.stdout.write(f"{slug}: {runs} runs' payloads {verb}")
        if not results:
            self.stdout.write("No tenant has a payload retention set.")
