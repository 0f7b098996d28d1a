import os
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from agentops.audit.services import Actor
from agentops.tenancy.models import ApiKeyScope, Membership, Tenant
from agentops.tenancy.roles import Role
from agentops.tenancy.selectors import api_key_is_active
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
        parser.add_argument(
            "--key-file", type=Path,
            help="Keep the key this file holds while the tenant's database knows it (print it, create nothing); "
                 "otherwise create a key and write it there, readable by its owner only.",
        )

    def handle(self, *args, tenant, name, scopes, user=None, key_file=None, **options):
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"No tenant with slug {tenant!r}.")
        kept = _read_key(key_file)
        if kept and api_key_is_active(tenant=tenant_obj, raw_key=kept):
            self.stdout.write(f"The key in {key_file} is valid for {tenant_obj.slug}; keeping it:")
            self.stdout.write(kept)
            return
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
        if key_file is not None:
            _write_private(key_file, raw)

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


def _read_key(path: Path | None) -> str:
    try:
        return path.read_text().strip() if path else ""
    except FileNotFoundError:
        return ""


def _write_private(path: Path, raw_key: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(raw_key + "\n")
    path.chmod(0o600)  # an existing file keeps its mode through O_CREAT
