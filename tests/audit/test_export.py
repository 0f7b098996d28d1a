"""`manage.py audit export` and `audit verify --file`: an export carries the chain, verifies from
the file alone, and a tampered, missing or reordered line is named."""

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command

from agentops.audit.models import AuditEvent
from tests.support.audit_command import audit

pytestmark = pytest.mark.django_db


def export(tmp_path, *args, fmt="jsonl") -> str:
    path = tmp_path / f"audit.{fmt}"
    audit("export", "--format", fmt, "--output", str(path), *args)
    return str(path)


def verify_file(path, *args) -> tuple[str, str]:
    return audit("verify", "--file", path, *args)


def verify_file_failure(path, *args) -> str:
    err = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("audit", "verify", "--file", path, *args, stdout=io.StringIO(), stderr=err)
    assert failure.value.returncode == 1
    return err.getvalue()


def rewrite(path, edit) -> None:
    """Apply `edit` (list of lines → list of lines) to the file."""
    with open(path, encoding="utf-8", newline="") as file:
        lines = file.read().splitlines(keepends=True)
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.writelines(edit(lines))


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_export_round_trips_and_verifies_offline(tmp_path, record, tenant, other_tenant, fmt):
    record(tenant, 5)
    record(other_tenant, 3)

    path = export(tmp_path, fmt=fmt)
    out, _ = verify_file(path)

    assert f"tenant {tenant.pk}: 5 events (#1–#5)" in out
    assert f"tenant {other_tenant.pk}: 3 events (#1–#3)" in out


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_exported_line_carries_the_chain_fields(tmp_path, record, tenant, fmt):
    [event] = record(tenant, 1)

    with open(export(tmp_path, fmt=fmt), encoding="utf-8", newline="") as file:
        rows = [json.loads(line) for line in file] if fmt == "jsonl" else list(csv.DictReader(file))

    assert len(rows) == 1
    row = rows[0]
    assert (str(row["seq"]), row["prev_hash"], row["hash"], row["key_id"], row["signature"]) == (
        "1", event.prev_hash, event.hash, event.key_id, event.signature)
    assert json.loads(row["data"]) if fmt == "csv" else row["data"] == event.data


def test_export_to_stdout_by_default(record, tenant):
    record(tenant, 2)
    out, _ = audit("export", "--format", "jsonl", "--tenant", tenant.slug)
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [1, 2]


def test_a_tampered_line_fails_verify_naming_the_line(tmp_path, record, tenant):
    record(tenant, 4)
    path = export(tmp_path)

    def edit(lines):
        row = json.loads(lines[2])
        row["data"] = {"i": 99}
        lines[2] = json.dumps(row) + "\n"
        return lines

    rewrite(path, edit)
    err = verify_file_failure(path)

    assert f"line 3: tenant {tenant.pk} event #3" in err
    assert "content does not match its hash" in err


def test_a_csv_line_edited_fails_verify(tmp_path, record, tenant):
    record(tenant, 3)
    path = export(tmp_path, fmt="csv")
    rewrite(path, lambda lines: [*lines[:2], lines[2].replace("test.happened", "test.harmless"), *lines[3:]])

    assert "line 3: " in verify_file_failure(path) and "content does not match its hash" in verify_file_failure(path)


def test_a_removed_line_fails_verify(tmp_path, record, tenant):
    record(tenant, 4)
    path = export(tmp_path)
    rewrite(path, lambda lines: [*lines[:1], *lines[2:]])

    assert "line 2: " in verify_file_failure(path) and "expected #2: an event is missing" in verify_file_failure(path)


def test_swapped_lines_fail_verify(tmp_path, record, tenant):
    record(tenant, 4)
    path = export(tmp_path)
    rewrite(path, lambda lines: [lines[0], lines[2], lines[1], lines[3]])

    assert "line 2: " in verify_file_failure(path)


def test_a_line_that_is_no_event_fails_verify(tmp_path, record, tenant):
    record(tenant, 2)
    path = export(tmp_path)
    rewrite(path, lambda lines: [lines[0], '{"hello": "world"}\n', lines[1]])

    assert "line 2: not an exported event" in verify_file_failure(path)


def test_a_time_range_export_still_verifies_from_its_first_prev_hash(tmp_path, record, tenant):
    record(tenant, 3)
    later = record(tenant, 2)

    path = export(tmp_path, "--since", later[0].created_at.isoformat())
    out, _ = verify_file(path)

    assert f"tenant {tenant.pk}: 2 events (#4–#5)" in out


def test_a_range_that_ends_early_exports_the_stretch_before_it(tmp_path, record, tenant):
    record(tenant, 3)
    later = record(tenant, 2)

    out, _ = verify_file(export(tmp_path, "--until", later[0].created_at.isoformat()))

    assert f"tenant {tenant.pk}: 3 events (#1–#3)" in out


def test_a_bad_date_is_refused_readably(tmp_path, tenant):
    with pytest.raises(CommandError, match="--since 'yesterday' is not a date"):
        audit("export", "--format", "csv", "--since", "yesterday")


def test_an_unreadable_file_is_a_readable_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        audit("verify", "--file", str(tmp_path / "missing.jsonl"))


def test_an_event_signed_with_an_unknown_key_fails(tmp_path, record, tenant, settings):
    record(tenant, 2)
    path = export(tmp_path)
    settings.AGENTOPS_AUDIT_KEYS = ["other:another-key-that-signed-nothing-of-this-log"]

    err = verify_file_failure(path)
    assert "line 1: " in err and "signed with an unknown audit key 'tests-2026'" in err


def test_export_seals_pending_events_first(tmp_path, record, tenant):
    record(tenant, 2, seal=False)
    assert AuditEvent.objects.filter(tenant=tenant, seq__isnull=True).count() == 2

    out, _ = verify_file(export(tmp_path))

    assert f"tenant {tenant.pk}: 2 events (#1–#2)" in out


def test_a_selective_export_from_the_page_verifies_with_gaps_allowed(tmp_path, client, operator, record, tenant):
    record(tenant, 2, action="run.created")
    record(tenant, 1, action="agent.changed")
    record(tenant, 1, action="run.created")
    client.force_login(operator)
    path = tmp_path / "selection.jsonl"
    path.write_bytes(b"".join(client.get("/audit/export/?action=run.created&format=jsonl").streaming_content))

    out, _ = verify_file(str(path), "--allow-gaps")

    assert f"tenant {tenant.pk}: 3 events (#1–#4), 1 gap allowed" in out
    assert "expected #3: an event is missing" in verify_file_failure(str(path))


def test_options_that_do_not_apply_to_a_file_are_refused(tmp_path, record, tenant):
    record(tenant, 1)
    path = export(tmp_path)
    with pytest.raises(CommandError, match="--file verifies the export alone"):
        audit("verify", "--file", path, "--tenant", tenant.slug)
    with pytest.raises(CommandError, match="--allow-gaps applies to an export"):
        audit("verify", "--allow-gaps")
