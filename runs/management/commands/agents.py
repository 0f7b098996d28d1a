from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from agentops.agents.errors import AgentDrainRefused
from agentops.agents.models import Agent
from agentops.agents.services import agent_version_drain
from agentops.audit.services import Actor
from runs.models import UNFINISHED_STATUSES, Run

# At most this many ids of unfinished runs are listed; the counts cover them all.
LISTED = 50


class Command(BaseCommand):
    help = ("Safe deploys. `agents drain SLUG --version N [--tenant SLUG]` stops new runs from pinning version N "
            "(runs on it finish on it) and reports the runs still on it; `agents undrain` allows it again.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        for action, text in (("drain", "Refuse new runs of an old version; list the runs still on it."),
                             ("undrain", "Let new runs pin the version again.")):
            command = sub.add_parser(action, help=text)
            command.add_argument("slug", help="The agent's slug.")
            command.add_argument("--version", type=int, required=True, help="The version number.")
            command.add_argument("--tenant", help="The agent's tenant (slug); needed when tenants share the slug.")

    def handle(self, *args, action, slug, version, tenant=None, **options):
        agent = _agent(slug, tenant)
        actor = Actor.system(f"manage.py agents {action}")
        try:
            agent_version_drain(agent=agent, number=version, actor=actor, drained=action == "drain")
        except AgentDrainRefused as refusal:
            raise CommandError(refusal.message) from None
        pinned = Run.objects.filter(tenant_id=agent.tenant_id, agent=agent, agent_version__number=version)
        counts = dict(pinned.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
        state = "drained: new runs may not pin it" if action == "drain" else "undrained: new runs may pin it again"
        self.stdout.write(f"{agent.tenant.slug}/{agent.slug} version {version} {state}.")
        self.stdout.write("Runs on it: " + (", ".join(f"{status} {n}" for status, n in sorted(counts.items()))
                                            or "none"))
        unfinished = list(pinned.filter(status__in=UNFINISHED_STATUSES).order_by("created_at")
                          .values_list("pk", flat=True)[:LISTED])
        if unfinished:
            total = sum(counts.get(status, 0) for status in UNFINISHED_STATUSES)
            self.stdout.write(f"Unfinished ({total}; they finish on version {version}):")
            for run_id in unfinished:
                self.stdout.write(f"  {run_id}")


def _agent(slug: str, tenant: str | None) -> Agent:
    agents = Agent.objects.select_related("tenant").filter(slug=slug)
    if tenant:
        agents = agents.filter(tenant__slug=tenant)
    found = list(agents[:2])
    if not found:
        raise CommandError(f"No agent {slug!r}" + (f" in tenant {tenant!r}." if tenant else "."))
    if len(found) > 1:
        raise CommandError(f"Several tenants have an agent {slug!r}: name one with --tenant.")
    return found[0]
