"""`manage.py eval`: exit 0 when the gate holds, 1 when it fails, 2 on a usage error; reports."""

import subprocess
import sys
from io import StringIO
from xml.etree import ElementTree

import pytest
from django.core.management import CommandError, call_command

from evals.models import EvalRun
from tests.factories import EvalCaseFactory
from tests.support import workers

pytestmark = pytest.mark.django_db(transaction=True)


def run_command(*args) -> str:
    out = StringIO()
    call_command("eval", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_gate_holds_when_every_case_passes(refund_suite, tenant):
    output = run_command("run", "refunds", "--tenant", tenant.slug, "--inline")

    assert "gate: passed" in output
    assert EvalRun.objects.get(suite=refund_suite).summary["pass_rate"] == 1.0


def test_a_failing_case_fails_the_gate_with_exit_status_1(refund_suite, tenant):
    EvalCaseFactory(suite=refund_suite, name="wants a voucher", message="Refund order 1042", position=3,
                    assertions=[{"type": "contains", "value": "voucher"}], approval_decisions=[{"decision": "approve"}])

    with pytest.raises(CommandError) as failed:
        run_command("run", "refunds", "--tenant", tenant.slug, "--inline")

    assert failed.value.returncode == 1
    assert "wants a voucher" in str(failed.value)


def test_a_min_pass_rate_lets_some_cases_fail(refund_suite, tenant):
    EvalCaseFactory(suite=refund_suite, name="wants a voucher", message="Refund order 1042", position=3,
                    assertions=[{"type": "contains", "value": "voucher"}], approval_decisions=[{"decision": "approve"}])

    output = run_command("run", "refunds", "--tenant", tenant.slug, "--inline", "--min-pass-rate", "0.6")

    assert "pass rate 66.67% (2/3 cases)" in output and "gate: passed" in output


@pytest.mark.parametrize("args", [["run", "no-such-suite"], ["run", "refunds", "--baseline", "999"],
                                  ["run", "refunds", "--min-pass-rate", "90"], ["compare", "1", "2"],
                                  ["export", "no-such-suite"]])
def test_usage_errors_exit_with_status_2(refund_suite, tenant, args):
    with pytest.raises(CommandError) as refused:
        run_command(*args, "--tenant", tenant.slug)

    assert refused.value.returncode == 2
    assert not EvalRun.objects.exists()


def test_another_tenants_suite_is_unknown(refund_suite, other_tenant, member):
    member("visitor", in_tenant=other_tenant)

    with pytest.raises(CommandError) as refused:
        run_command("run", "refunds", "--tenant", other_tenant.slug, "--inline")

    assert refused.value.returncode == 2 and "No suite 'refunds'" in str(refused.value)


def test_the_real_command_exits_1_and_writes_junit_that_parses(refund_suite, tenant, tmp_path):
    EvalCaseFactory(suite=refund_suite, name="wants a voucher", message="Refund order 1042", position=3,
                    assertions=[{"type": "contains", "value": "voucher"}], approval_decisions=[{"decision": "approve"}])
    report = tmp_path / "evals.xml"
    env = {"DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": workers.test_database_url(), "PATH": "/usr/bin:/bin"}

    done = subprocess.run([sys.executable, "manage.py", "eval", "run", "refunds", "--tenant", tenant.slug, "--inline",
                           "--format", "junit", "--output", str(report)], cwd=workers.ROOT, env=env, capture_output=True,
                          text=True, timeout=120)

    assert done.returncode == 1, done.stderr
    suite = ElementTree.parse(report).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")
    failure = suite.find("testcase[@name='wants a voucher']/failure")
    assert "does not contain 'voucher'" in failure.text


def test_the_real_command_exits_2_on_a_bad_flag_or_suite(tenant):
    env = {"DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": workers.test_database_url(), "PATH": "/usr/bin:/bin"}
    for args in (["run", "refunds", "--repeat", "many"], ["run", "no-such-suite", "--tenant", tenant.slug]):
        done = subprocess.run([sys.executable, "manage.py", "eval", *args], cwd=workers.ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 2, done.stderr


def test_json_report_and_compare_against_the_baseline(refund_suite, tenant):
    run_command("run", "refunds", "--tenant", tenant.slug, "--inline", "--label", "v1")

    run_command("run", "refunds", "--tenant", tenant.slug, "--inline", "--baseline", "v1", "--format", "json",
                "--fail-on-regression")

    first, second = EvalRun.objects.order_by("pk")
    assert second.baseline == first
    assert second.summary["comparison"]["counts"]["unchanged"] == 2
    compared = run_command("compare", str(first.pk), str(second.pk), "--tenant", tenant.slug)
    assert "0 regressed, 0 improved, 2 unchanged" in compared
