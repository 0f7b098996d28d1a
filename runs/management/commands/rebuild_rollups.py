from django.core.management.base import BaseCommand, CommandError

from agentops.tenancy.models import Tenant
from runs.models import RunRollup
from runs.rollups import rollups_rebuild


class Command(BaseCommand):
    help = ("Recompute the dashboard's rollups from the runs that have ended (after restoring a backup, or "
            "when runs ended on workers older than the rollups' migration): rebuild_rollups [--tenant SLUG].")

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Only this tenant's rollups (default: every tenant's).")

    def handle(self, *args, tenant, **options):
        tenant_ids = None
        if tenant:
            found = Tenant.objects.filter(slug=tenant).values_list("pk", flat=True).first()
            if found is None:
                raise CommandError(f"no tenant {tenant!r}")
            tenant_ids = [found]
        rollups_rebuild(tenant_ids=tenant_ids)
        rows = RunRollup.objects.filter(tenant_id__in=tenant_ids) if tenant_ids else RunRollup.objects.all()
        self.stdout.write(f"rollups rebuilt: {sum(rows.values_list('runs', flat=True)):,} ended runs")
