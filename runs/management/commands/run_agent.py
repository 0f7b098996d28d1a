import json
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from agentops.tenancy.models import Membership, Tenant
from agentops.tenancy.principal import Principal
from agentops.tenancy.roles import Role
from runs.engine import execute_run
from runs.models import Run, RunStatus, Step
from runs.errors import RunError
from runs.services import run_create


class Command(BaseCommand):
    help = 'Start a run of an agent: run_agent SLUG "message" [--wait | --inline].'

    def add_arguments(self, parser):
        parser.add_argument("agent", help="Agent slug.")
        parser.add_argument("message", help="The user's message.")
        parser.add_argument("--tenant", default="demo", help="Tenant slug (default: demo).")
        parser.add_argument("--user", help="Who starts the run (default: the tenant's first owner or operator).")
        parser.add_argument("--on-behalf-of", help="Username the run acts for; bounds what its tools may do.")
        parser.add_argument("--wait", action="store_true", help="Print steps as a worker completes them, then the output.")
        parser.add_argument("--inline", action="store_true", help="Execute here instead of on a worker, then print.")
        parser.add_argument("--timeout", type=float, default=300, help="Seconds --wait waits (default 300).")

    def handle(self, *args, agent, message, tenant, user, on_behalf_of, wait, inline, timeout, **options):
        principal = self._principal(tenant, user)
        acting_for = self._user(on_behalf_of) if on_behalf_of else None
        try:
            run, _ = run_create(principal=principal, agent_slug=agent, input={"message": message},
                                on_behalf_of=acting_for)
        except RunError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"run {run.pk} started ({agent} v{run.agent_version.number})")
        if inline:
            while execute_run(run.pk) not in ("not_claimed",):
                run.refresh_from_db()
                if run.status != RunStatus.QUEUED:
                    break
            self._follow(run, timeout=0)
        elif wait:
            self._follow(run, timeout=timeout)

    def _follow(self, run: Run, *, timeout: float) -> None:
        shown, deadline, warned = 0, time.monotonic() + timeout, False
        while True:
            for step in Step.objects.filter(run=run, seq__gt=shown).order_by("seq"):
                if step.status in ("started", "waiting"):
                    break
                self._print_step(step)
                shown = step.seq
            run.refresh_from_db()
            if run.is_finished or run.status == RunStatus.WAITING or time.monotonic() > deadline:
                break
            if run.status == RunStatus.QUEUED and not warned and time.monotonic() > deadline - timeout + 5:
                self.stderr.write("still queued: is a worker running? (make worker), or use --inline")
                warned = True
            time.sleep(0.2)
        self._print_end(run)

    def _print_step(self, step: Step) -> None:
        detail = ""
        if step.kind == "llm" and step.output:
            calls = [c["name"] for c in step.output.get("tool_calls") or []]
            detail = f"→ calls {', '.join(calls)}" if calls else f"→ {str(step.output.get('content'))[:120]!r}"
            detail += f"  ({step.tokens_in}+{step.tokens_out} tokens, ${step.cost})"
        elif step.kind == "tool":
            detail = json.dumps(step.output if step.status == "completed" else step.error)[:160]
        self.stdout.write(f"  #{step.seq:<3} {step.kind:<8} {step.name:<24} {step.status:<10} {detail}")

    def _print_end(self, run: Run) -> None:
        if run.status == RunStatus.SUCCEEDED:
            answer = run.output.get("answer") if isinstance(run.output, dict) else None
            self.stdout.write(self.style.SUCCESS(f"succeeded: {answer if answer is not None else json.dumps(run.output)}"))
        elif run.status == RunStatus.WAITING:
            self.stdout.write(self.style.WARNING(f"waiting for {run.get_waiting_reason_display().lower()} "
                                                 f"(see /runs/{run.pk}/)"))
        elif run.status in (RunStatus.FAILED, RunStatus.CANCELLED):
            raise CommandError(f"run {run.status}: {run.error.get('message') if run.error else ''}")
        else:
            self.stdout.write(f"run is {run.status}; follow it at /runs/{run.pk}/")

    def _principal(self, tenant_slug, username) -> Principal:
        tenant = Tenant.objects.filter(slug=tenant_slug).first()
        if tenant is None:
            raise CommandError(f"No tenant {tenant_slug!r}.")
        memberships = Membership.objects.filter(tenant=tenant).select_related("user")
        if username:
            membership = memberships.filter(user__username=username).first()
        else:
            membership = memberships.filter(role__in=[Role.OWNER, Role.OPERATOR]).order_by("pk").first()
        if membership is None:
            raise CommandError(f"No such member of {tenant_slug}; name one with --user.")
        if not membership.grants("run_agents"):
            raise CommandError(f"{membership.user} may not run agents in {tenant_slug}.")
        return Principal(tenant=tenant, user=membership.user, membership=membership)

    def _user(self, username):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        return user
