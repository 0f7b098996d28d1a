"""Structured logs: with LOG_FORMAT=json an engine line is one JSON object carrying the run, its
tenant and the step; readable lines by default; django-q's per-task lines off by default."""

import io
import json
import logging
import os
import subprocess
import sys

import pytest

from agentops.logs import ContextFilter, JsonFormatter, TextFormatter
from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from runs.engine import execute_run
from runs.registry import workflow
from runs.services import run_create
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


@workflow("test_logs_then_raises")
def logs_then_raises(ctx, input):
    ctx.step("first", lambda: 1)
    ctx.step("second", lambda: 2)
    return 1 / 0  # the engine logs "workflow raised" with the run's context


@pytest.fixture
def failing_run(operator, tenant):
    """failing_run() → a run of `test_logs_then_raises`, executed here as a worker would."""

    def execute():
        principal = Principal(tenant=tenant, user=operator, membership=Membership.objects.get(user=operator))
        AgentFactory(tenant=tenant, slug="logs", version__workflow="test_logs_then_raises")
        run, _ = run_create(principal=principal, agent_slug="logs", input={})
        execute_run(run.pk)
        return run

    return execute


@pytest.fixture
def engine_lines():
    """engine_lines(formatter) → a function giving the lines the engine's logger wrote since, each
    through the console handler's filter and `formatter`, as settings.LOGGING sets them up."""
    logger = logging.getLogger("runs.engine.executor")
    handlers = []

    def capture(formatter):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        handler.addFilter(ContextFilter())
        logger.addHandler(handler)
        handlers.append(handler)
        return lambda: stream.getvalue().splitlines()

    yield capture
    for handler in handlers:
        logger.removeHandler(handler)


def test_an_engine_line_in_json_carries_run_tenant_and_step(engine_lines, failing_run, tenant):
    lines = engine_lines(JsonFormatter())
    run = failing_run()

    entry = json.loads(lines()[0])
    assert (entry["run"], entry["tenant"], entry["step"]) == (str(run.pk), tenant.slug, 2)
    assert entry["level"] == "ERROR" and entry["logger"] == "runs.engine.executor"
    assert entry["message"] == f"run {run.pk}: workflow raised"
    assert "ZeroDivisionError" in entry["exc_info"]


def test_a_readable_line_names_the_run_after_the_message(engine_lines, failing_run, tenant):
    lines = engine_lines(TextFormatter())
    run = failing_run()

    assert lines()[0].endswith(f"workflow raised [run={run.pk} tenant={tenant.slug} step=2]")


def test_outside_a_run_a_line_has_no_run(engine_lines):
    lines = engine_lines(JsonFormatter())
    logging.getLogger("runs.engine.executor").warning("between runs")
    entry = json.loads(lines()[0])
    assert (entry["run"], entry["tenant"], entry["step"]) == (None, None, None)


def configured(**env) -> str:
    """What the settings make of logging in a fresh process with `env`: a line logged in a run's
    context, then django-q's level."""
    script = ("import django, logging; django.setup(); from agentops.logs import run_log_context, log_step\n"
              "with run_log_context(run_id='r-1', tenant='acme'):\n"
              "    log_step(3); logging.getLogger('runs.engine.executor').warning('hello')\n"
              "print('django-q', logging.getLevelName(logging.getLogger('django-q').getEffectiveLevel()))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "agentops.settings", "DEBUG": "1", **env})
    assert result.returncode == 0, result.stderr
    return result.stderr + result.stdout


def test_log_format_json_makes_the_console_write_json():
    output = configured(LOG_FORMAT="json")
    entry = json.loads(output.splitlines()[0])
    assert (entry["message"], entry["run"], entry["tenant"], entry["step"]) == ("hello", "r-1", "acme", 3)


def test_lines_are_readable_by_default_and_django_q_is_quiet():
    output = configured()
    assert "WARNING runs.engine.executor: hello [run=r-1 tenant=acme step=3]" in output
    assert "django-q WARNING" in output


def test_a_bad_log_format_is_refused():
    with pytest.raises(AssertionError, match="LOG_FORMAT must be text or json"):
        configured(LOG_FORMAT="xml")
