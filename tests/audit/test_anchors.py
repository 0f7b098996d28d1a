"""Anchors: every chain's signed head written outside the database (a directory, an HTTP endpoint),
against which `manage.py audit verify` finds the newest events deleted or the chain rewritten."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import CommandError
from django.test import override_settings
from django.utils import timezone
from django_q.models import Schedule

from agentops.audit import tasks
from agentops.audit.anchors import Anchor, anchors_load
from agentops.audit.keys import signing_key
from agentops.audit.models import AuditEvent
from agentops.audit.services import Actor, audit_purge
from tests.support.audit_command import audit, verify_failure
from tests.support.audit_tampering import rehash_chain, tamper


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def anchored(tmp_path, tenant, record):
    """Acme's chain of 5 events, anchored to a directory."""
    record(tenant, 5)
    audit("anchor", "--to", str(tmp_path))
    return tmp_path


def test_anchoring_writes_each_chains_signed_head_to_its_tenants_file(tmp_path, tenant, other_tenant, record):
    record(tenant, 3)
    record(other_tenant, 1)

    out, _ = audit("anchor", "--to", str(tmp_path))

    [ours] = lines(tmp_path / f"tenant-{tenant.pk}.jsonl")
    head = AuditEvent.objects.get(tenant=tenant, seq=3)
    assert (ours["tenant"], ours["seq"], ours["hash"], ours["key_id"]) == ("acme", 3, head.hash, signing_key().id)
    assert Anchor(**ours).signature_valid()
    assert lines(tmp_path / f"tenant-{other_tenant.pk}.jsonl")[0]["seq"] == 1
    assert "anchored tenant acme: #3" in out and "2 chains anchored" in out


def test_anchoring_again_appends_to_the_file(anchored, tenant, record):
    record(tenant, 1)

    audit("anchor", "--to", str(anchored))

    assert [a["seq"] for a in lines(anchored / f"tenant-{tenant.pk}.jsonl")] == [5, 6]


def test_an_intact_chain_matches_its_anchor(anchored, tenant, record):
    record(tenant, 1)  # events after the anchor are fine

    out, err = audit("verify", "--anchors", str(anchored))

    assert "ok     tenant acme: 6 events, chain intact, matches its anchor of" in out and "(#5)" in out
    assert err == ""


def test_deleting_the_newest_events_is_found_against_the_anchor(anchored, tenant):
    tamper("DELETE FROM audit_auditevent WHERE tenant_id = %s AND seq >= 4", [tenant.pk])

    err = verify_failure("--anchors", str(anchored))

    assert "BROKEN tenant acme: event #5: missing: the anchor of" in err
    assert "recorded the chain up to #5, it now ends at #3: its newest events were deleted" in err


def test_deleting_every_event_is_found_against_the_anchor(anchored, tenant):
    tamper("DELETE FROM audit_auditevent WHERE tenant_id = %s", [tenant.pk])

    err = verify_failure("--anchors", str(anchored))

    assert "it now ends at #0" in err


def test_a_chain_rewritten_with_the_key_is_found_against_the_anchor(anchored, tenant):
    # Someone holding the key edits an event and signs the chain again: it verifies on its own.
    tamper("UPDATE audit_auditevent SET action = 'test.innocent' WHERE tenant_id = %s AND seq = 2", [tenant.pk])
    rehash_chain(tenant, lambda event: event.compute_hash(), sign=lambda event: event.compute_signature())

    err = verify_failure("--anchors", str(anchored))

    assert "BROKEN tenant acme: event #5" in err and "differs from its anchor of" in err


def test_an_edited_anchor_is_reported(anchored, tenant):
    path = anchored / f"tenant-{tenant.pk}.jsonl"
    [anchor] = lines(path)
    path.write_text(json.dumps({**anchor, "seq": 3}) + "\n")

    err = verify_failure("--anchors", str(anchored))

    assert f"BROKEN anchor {path}:1: signature does not match" in err


def test_an_anchored_tenant_missing_from_the_database_is_reported(anchored, tenant):
    key = signing_key()
    ghost = Anchor(99999, "ghost", 4, "f" * 64, timezone.now().isoformat(), key.id)
    (anchored / "tenant-99999.jsonl").write_text(Anchor(**{**ghost.__dict__, "signature": key.sign(ghost.signed_text())}).line())

    err = verify_failure("--anchors", str(anchored))

    assert "BROKEN tenant ghost (id 99999): anchored, but no longer in the database" in err


def test_an_anchor_before_a_purge_does_not_fail_the_chain(anchored, tenant, record):
    record(tenant, 1)
    audit_purge(tenant=tenant, before=timezone.now(), actor=Actor.system("test"))

    out, err = audit("verify", "--anchors", str(anchored))

    assert "ok     tenant acme: 1 event (#7–#7: purged through #6), chain intact" in out and err == ""


def test_verify_reads_the_configured_anchor_directory(anchored, tenant):
    tamper("DELETE FROM audit_auditevent WHERE tenant_id = %s AND seq = 5", [tenant.pk])

    with override_settings(AGENTOPS_AUDIT_ANCHOR_DIR=str(anchored)):
        err = verify_failure()

    assert "it now ends at #4" in err


def test_verify_without_anchors_says_what_it_cannot_see(tenant, record):
    record(tenant, 1)

    out, _ = audit("verify")

    assert "note   no anchors" in out and "deleting a chain's newest events cannot be detected" in out


def test_verify_refuses_anchors_that_are_not_there(tenant, tmp_path):
    with pytest.raises(CommandError, match=f"No anchors at {tmp_path}/nowhere"):
        audit("verify", "--anchors", str(tmp_path / "nowhere"))


def test_a_configured_anchor_directory_not_yet_written_is_a_note(tenant, record, tmp_path):
    record(tenant, 1)

    with override_settings(AGENTOPS_AUDIT_ANCHOR_DIR=str(tmp_path / "not-yet")):
        out, err = audit("verify")

    assert "note   no anchors" in out and "tenant acme: 1 event, chain intact" in out and err == ""


def test_anchors_are_loaded_from_one_json_lines_file_too(anchored, tenant, tmp_path):
    merged = tmp_path / "received.jsonl"
    merged.write_text((anchored / f"tenant-{tenant.pk}.jsonl").read_text())

    by_tenant, problems = anchors_load(str(merged))

    assert [a.seq for a in by_tenant[tenant.pk]] == [5] and problems == []


class Receiver(BaseHTTPRequestHandler):
    """Keeps what is POSTed to it; answers with the status its server is told to."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.received, server.status = [], 204
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_anchoring_to_a_url_posts_the_signed_heads(receiver, tenant, record):
    record(tenant, 2)
    url = f"http://127.0.0.1:{receiver.server_port}/anchors"

    audit("anchor", "--to", url)

    [(path, content_type, body)] = receiver.received
    [anchor] = body["anchors"]
    assert (path, content_type) == ("/anchors", "application/json")
    assert (anchor["tenant"], anchor["seq"]) == ("acme", 2) and Anchor(**anchor).signature_valid()


def test_an_endpoint_that_refuses_the_anchors_fails_the_command(receiver, tenant, record):
    record(tenant, 1)
    receiver.status = 500

    with pytest.raises(CommandError, match=r"answered 500"):
        audit("anchor", "--to", f"http://127.0.0.1:{receiver.server_port}/anchors")


def test_an_unreachable_endpoint_fails_the_command_readably(receiver, tenant, record):
    record(tenant, 1)
    port = receiver.server_port
    receiver.shutdown()
    receiver.server_close()

    with pytest.raises(CommandError, match=f"Could not POST the anchors to http://127.0.0.1:{port}/"):
        audit("anchor", "--to", f"http://127.0.0.1:{port}/")


def test_anchoring_to_a_directory_given_leaves_the_configured_url_alone(receiver, tmp_path, tenant, record):
    record(tenant, 1)

    with override_settings(AGENTOPS_AUDIT_ANCHOR_URL=f"http://127.0.0.1:{receiver.server_port}/"):
        audit("anchor", "--to", str(tmp_path))

    assert receiver.received == [] and lines(tmp_path / f"tenant-{tenant.pk}.jsonl")[0]["seq"] == 1


def test_anchoring_without_a_target_is_refused(tenant, record):
    with pytest.raises(CommandError, match="No anchor target"):
        audit("anchor")


def test_the_hourly_task_anchors_to_the_configured_targets(tmp_path, receiver, tenant, record):
    record(tenant, 2)

    with override_settings(AGENTOPS_AUDIT_ANCHOR_DIR=str(tmp_path),
                           AGENTOPS_AUDIT_ANCHOR_URL=f"http://127.0.0.1:{receiver.server_port}/"):
        result = tasks.anchor()

    assert result == {"anchored": 1}
    assert lines(tmp_path / f"tenant-{tenant.pk}.jsonl")[0]["seq"] == 2
    assert receiver.received[0][2]["anchors"][0]["seq"] == 2


def test_the_hourly_task_does_nothing_without_a_target(tenant, record):
    record(tenant, 1)

    assert tasks.anchor() == {"anchored": 0, "skipped": "no anchor target configured"}


def test_the_anchor_task_is_scheduled_hourly(db):
    schedule = Schedule.objects.get(name="agentops.audit_anchor")

    assert (schedule.func, schedule.schedule_type, schedule.repeats) == ("agentops.audit.tasks.anchor", "H", -1)
