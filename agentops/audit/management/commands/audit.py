from datetime import datetime, time, timezone

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime

from agentops.audit.export import FORMATS, audit_export_events, export_lines
from agentops.audit.models import AuditEvent
from agentops.audit.selectors import AuditFilters
from agentops.audit.anchors import AnchorError, anchors_load, audit_anchor
from agentops.audit.sequencer import audit_seal
from agentops.audit.services import Actor, AuditPurgeError, audit_purge
from agentops.audit.verify import audit_chain_report, audit_file_verify, audit_overdue


class Command(BaseCommand):
    help = ("Audit log tools. `audit verify [--tenant SLUG] [--anchors PATH]` checks every tenant's chain "
            "(and against its anchors); `audit seal` links the pending events into their chains now; "
            "`audit anchor [--to DIR|URL]` records every chain's signed head outside the database; "
            "`audit purge --tenant SLUG --before DATE` deletes a tenant's oldest events; "
            "`audit export --format jsonl|csv` writes the events for offline verification (`audit verify --file`).")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="Verify the chains; exit 1 on any broken chain or anchor.")
        verify.add_argument("--tenant", help="Only this tenant's chain (slug).")
        verify.add_argument("--anchors", help="Directory of anchor files, or one JSON Lines file "
                                              "(default: AGENTOPS_AUDIT_ANCHOR_DIR).")
        verify.add_argument("--no-seal", action="store_true",
                            help="Verify pending events as they are, without sealing them first.")
        verify.add_argument("--file", help="Verify an export (`audit export`) instead of the database, from the "
                                           "file alone and the audit keys.")
        verify.add_argument("--allow-gaps", action="store_true",
                            help="With --file: an export filtered by actor, action, target or run, whose events "
                                 "do not follow each other in the chain.")
        export = sub.add_parser("export", help="Write the events, with their chain fields, as JSON Lines or CSV "
                                               "(verifiable with `audit verify --file`).")
        export.add_argument("--tenant", help="Only this tenant's events (slug).")
        export.add_argument("--since", help="From this date (YYYY-MM-DD, midnight UTC) or ISO date-time.")
        export.add_argument("--until", help="Up to (not including) this date or ISO date-time.")
        export.add_argument("--format", required=True, choices=FORMATS)
        export.add_argument("--output", help="A file to write (default: standard output).")
        sub.add_parser("seal", help="Link every pending event into its tenant's chain now (the workers do it every second).")
        anchor = sub.add_parser("anchor", help="Write every chain's signed head to a directory and/or POST it to a URL.")
        anchor.add_argument("--to", help="A directory, or an http(s):// URL (default: the configured targets).")
        purge = sub.add_parser("purge", help="Delete a tenant's events up to the newest one written before DATE, "
                                             "recording the purge in its chain.")
        purge.add_argument("--tenant", required=True, help="The tenant (slug).")
        purge.add_argument("--before", required=True, help="A date (YYYY-MM-DD, midnight UTC) or an ISO date-time.")

    def handle(self, *args, action, **options):
        {"verify": self.verify, "seal": self.seal, "anchor": self.anchor, "purge": self.purge,
         "export": self.export}[action](**options)

    def verify(self, *, tenant=None, anchors=None, no_seal=False, file=None, allow_gaps=False, **options):
        if file and (tenant or anchors or no_seal):
            raise CommandError("--file verifies the export alone: --tenant, --anchors and --no-seal do not apply.")
        if allow_gaps and not file:
            raise CommandError("--allow-gaps applies to an export (--file) only.")
        if file:
            return self.verify_file(file, allow_gaps=allow_gaps)
        tenants = list(_tenants(tenant))
        anchored, problems = self._load_anchors(anchors)
        for problem in problems:
            self.stderr.write(self.style.ERROR(f"BROKEN anchor {problem}"))
        broken = bool(problems) | self._report_missing_tenants(tenant, anchored, tenants)
        # Found before sealing, which would hide that the sequencer had stopped.
        overdue = audit_overdue([t.pk for t in tenants])
        if not no_seal:
            audit_seal(tenant_ids=[t.pk for t in tenants], wait=True)
        for t in tenants:
            broken |= self._report_chain(t, (anchored or {}).get(t.pk, []), anchoring=anchored is not None)
            if t.pk in overdue:
                self.stderr.write(self.style.ERROR(f"LATE   tenant {t.slug}: {overdue[t.pk]}"))
        if broken or overdue:
            raise CommandError("audit chain verification failed", returncode=1)

    def verify_file(self, path: str, *, allow_gaps: bool):
        try:
            with open(path, encoding="utf-8", newline="") as lines:
                chains, problem = audit_file_verify(lines, allow_gaps=allow_gaps)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from exc
        for chain in chains:
            span = f" (#{chain.first_seq}–#{chain.last_seq})" if chain.first_seq is not None else ""
            pending = f", {chain.pending} pending" if chain.pending else ""
            gaps = f", {chain.gaps} gap{'' if chain.gaps == 1 else 's'} allowed" if chain.gaps else ""
            self.stdout.write(f"{'read' if problem else 'ok'}     {path}: tenant {chain.tenant_id}: "
                              f"{chain.events} events{span}{pending}{gaps}")
        if problem:
            self.stderr.write(self.style.ERROR(f"BROKEN {path}: {problem}"))
            raise CommandError("audit export verification failed", returncode=1)
        self.stdout.write(f"note   {path}: the file alone cannot show events cut from its start or end: "
                          "compare its last event with an anchor")

    def export(self, *, tenant=None, since=None, until=None, format, output=None, **options):
        tenants = list(_tenants(tenant).values_list("pk", flat=True))
        filters = AuditFilters(since=_moment(since, "--since") if since else None,
                               until=_moment(until, "--until") if until else None)
        audit_seal(tenant_ids=tenants, wait=True)  # so that every event has its place in the chain
        lines = export_lines(audit_export_events(AuditEvent.objects.all(), tenant_ids=tenants, filters=filters), format)
        if not output:
            for line in lines:
                self.stdout.write(line, ending="")
            return
        try:
            with open(output, "w", encoding="utf-8", newline="") as file:
                file.writelines(lines)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}.") from exc

    def seal(self, **options):
        self.stdout.write(f"{audit_seal(wait=True)} events sealed")

    def _load_anchors(self, path) -> tuple[dict | None, list[str]]:
        """The anchors at --anchors (which must exist), else in the configured directory (which the
        first anchoring creates); None when there are none to compare with."""
        try:
            return anchors_load(path or settings.AGENTOPS_AUDIT_ANCHOR_DIR or "")
        except AnchorError as exc:
            if path:
                raise CommandError(exc.message) from exc
        self.stdout.write("note   no anchors (AGENTOPS_AUDIT_ANCHOR_DIR or --anchors): deleting a chain's "
                          "newest events cannot be detected")
        return None, []

    def _report_chain(self, tenant, anchors, *, anchoring: bool) -> bool:
        report = audit_chain_report(tenant, anchors)
        if report.chain_break:
            self.stderr.write(self.style.ERROR(f"BROKEN {report.chain_break}"))
            return True
        purged = f" (#{report.base_seq + 1}–#{report.last_seq}: purged through #{report.base_seq})" if report.base_seq else ""
        anchor = (f", matches its anchor of {report.anchor.anchored_at} (#{report.anchor.seq})" if report.anchor
                  else ", no anchor yet" if anchoring else "")
        events = f"{report.checked} event{'' if report.checked == 1 else 's'}"
        events += f" ({report.pending} pending)" if report.pending else ""
        self.stdout.write(f"ok     tenant {tenant.slug}: {events}{purged}, chain intact{anchor}")
        return False

    def _report_missing_tenants(self, slug, anchored, tenants) -> bool:
        """Anchored tenants that no longer exist (tenants with audit events cannot be deleted)."""
        if slug:
            return False
        missing = sorted(set(anchored or {}) - {t.pk for t in tenants})
        for tenant_id in missing:
            self.stderr.write(self.style.ERROR(
                f"BROKEN tenant {anchored[tenant_id][-1].tenant} (id {tenant_id}): anchored, but no longer in the database"))
        return bool(missing)

    def anchor(self, *, to=None, **options):
        target = {"url": to} if to and to.startswith(("http://", "https://")) else {"directory": to or ""}
        try:
            anchors = audit_anchor(**target)
        except AnchorError as exc:
            raise CommandError(exc.message) from exc
        for a in anchors:
            self.stdout.write(f"anchored tenant {a.tenant}: #{a.seq} {a.hash[:16]}… (key {a.key_id})")
        self.stdout.write(f"{len(anchors)} chains anchored")

    def purge(self, *, tenant, before, **options):
        [target] = _tenants(tenant)
        try:
            event = audit_purge(tenant=target, before=_moment(before, "--before"), actor=Actor.system("manage.py audit purge"))
        except AuditPurgeError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"purged tenant {target.slug}: {event.data['count']} events through "
                          f"#{event.data['through_seq']}, recorded as event #{event.seq}")


def _tenants(slug):
    tenants = apps.get_model("tenancy", "Tenant").objects.order_by("slug")
    if slug:
        tenants = tenants.filter(slug=slug)
        if not tenants.exists():
            raise CommandError(f"No tenant with slug {slug!r}.")
    return tenants


def _moment(text: str, option: str) -> datetime:
    """A date as midnight UTC, or an ISO date-time (UTC when it names no zone)."""
    try:
        moment = parse_datetime(text)
        if moment is None and (day := parse_date(text)):
            moment = datetime.combine(day, time())
    except ValueError:
        moment = None
    if not moment:
        raise CommandError(f"{option} {text!r} is not a date (YYYY-MM-DD) or an ISO date-time.")
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
