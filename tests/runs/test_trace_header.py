"""The trace header tells a run's wall-clock time and its active time apart."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from runs.models import RunStatus, WaitingReason
from tests.support.runs_journal import make_run

pytestmark = pytest.mark.django_db


def header(client, run) -> str:
    html = client.get(reverse("runs:trace", args=[run.pk])).content.decode()
    return html[html.index('id="run-header"'):html.index("</section>")]


def test_a_waiting_run_shows_its_time_so_far_and_its_active_time_apart(client, operator, agent):
    client.force_login(operator)
    run = make_run(agent, status=RunStatus.WAITING, waiting_reason=WaitingReason.APPROVAL,
                   started_at=timezone.now() - dt.timedelta(minutes=2, seconds=52), active_seconds=0.039)

    html = header(client, run)

    assert "<dt>Time so far</dt>" in html and ">2 min 52 s</dd>" in html
    assert "<dt>Active</dt>" in html and ">39 ms</dd>" in html
    assert "Duration" not in html


def test_a_finished_run_shows_its_duration_and_its_active_time(client, operator, agent):
    client.force_login(operator)
    start = timezone.now() - dt.timedelta(hours=1)
    run = make_run(agent, status=RunStatus.SUCCEEDED, started_at=start, finished_at=start + dt.timedelta(seconds=21.4),
                   active_seconds=3.2)

    html = header(client, run)

    assert "<dt>Duration</dt>" in html and ">21.4 s</dd>" in html and ">3.2 s</dd>" in html


def test_times_are_time_elements_in_utc_that_read_without_javascript(client, operator, agent, settings):
    client.force_login(operator)
    settings.TIME_ZONE = "Europe/Paris"
    run = make_run(agent, status=RunStatus.SUCCEEDED, started_at=dt.datetime(2026, 1, 5, 9, 30, 0, 250_000, dt.UTC),
                   finished_at=dt.datetime(2026, 1, 5, 9, 31, tzinfo=dt.UTC))

    html = header(client, run)

    assert ('<time datetime="2026-01-05T09:31:00.000Z" data-style="datetime" title="2026-01-05 09:31:00 UTC">'
            "Jan 5, 10:31:00</time>") in html  # the server's zone until the page's script runs
