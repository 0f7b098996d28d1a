from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from agentops.audit.services import Actor
from agentops.tenancy.models import ApiKeyScope, Membership, Tenant
from agentops.tenancy.roles import Role
from agentops.tenancy.services import TenancyError, api_key_create


class Command(BaseCommand):
    help = "Create an API key for a tenant and print it once (alone on the last line)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Tenant slug.")
        parser.add_argument("--name", required=True, help="A name to recognise the key by.")
        parser.add_argument(
            "--scopes", nargs="+", default=["read", "runs:write", "approvals:write"],
            choices=ApiKeyScope.values, help="Scopes (default: read runs:write approvals:write).",
        )
        parser.add_argument("--user", help="Username the key acts as (default: the tenant's first owner or operator).")

    def handle(self, *args, tenant, name, scopes, user=None, **options):
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"No tenant with slug {tenant!r}.")
        key_user = self._key_user(tenant_obj, user)
        try:
            key, raw = api_key_create(
                tenant=tenant_obj, user=key_user, name=name, scopes=scopes,
                actor=Actor.system("manage.py create_api_key"),
            )
        except TenancyError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Created key {key.prefix}… for {tenant_obj.slug} acting as {key_user.get_username()}, "
                          f"scopes: {' '.join(key.scopes)}. It is shown only now:")
        self.stdout.write(raw)

    def _key_user(self, tenant, username):
        if username:
            found = get_user_model().objects.filter(username=username).first()
            if found is None:
                raise CommandError(f"No user {username!r}.")
            return found
        for role in (Role.OWNER, Role.OPERATOR):
            membership = Membership.objects.filter(tenant=tenant, role=role).select_related("user").order_by("pk").first()
            if membership:
                return membership.user
        raise CommandError(f"Tenant {tenant.slug} has no owner or operator; name one with --user.")
