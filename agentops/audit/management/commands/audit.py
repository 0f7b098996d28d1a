from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from agentops.audit.verify import audit_chain_verify


class Command(BaseCommand):
    help = "Audit log tools. `audit verify [--tenant SLUG]` checks every tenant's hash chain."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="Verify the hash chains; exit 1 at the first broken event.")
        verify.add_argument("--tenant", help="Only this tenant's chain (slug).")

    def handle(self, *args, action, tenant=None, **options):
        tenants = apps.get_model("tenancy", "Tenant").objects.order_by("slug")
        if tenant:
            tenants = tenants.filter(slug=tenant)
            if not tenants.exists():
                raise CommandError(f"No tenant with slug {tenant!r}.")
        broken = False
        for t in tenants:
            checked, chain_break = audit_chain_verify(t)
            if chain_break:
                broken = True
                self.stderr.write(self.style.ERROR(f"BROKEN {chain_break}"))
            else:
                self.stdout.write(f"ok     tenant {t.slug}: {checked} events, chain intact")
        if broken:
            raise CommandError("audit chain verification failed", returncode=1)
