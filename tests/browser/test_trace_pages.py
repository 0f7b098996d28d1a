"""The trace viewer and the run pages in a real browser: a prompt fetched when its step is
opened, times in the viewer's time zone, dark mode, Run agent and Replay."""

import datetime as dt
import re

import pytest

from runs.models import Run, RunStatus
from tests.support.runs_journal import add_model_call, add_tool_call, make_run, reply

pytest_plugins = ["tests.support.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SYSTEM = {"role": "system", "content": "You are the support agent."}
QUESTION = {"role": "user", "content": "Where is my order 1042?"}
RESULT = {"role": "tool", "tool_call_id": "call_lookup_order", "content": '{"status": "shipped"}'}
FINISHED = dt.datetime(2026, 1, 5, 9, 31, tzinfo=dt.UTC)


@pytest.fixture
def conversation(agent, operator):
    run = make_run(agent, status=RunStatus.SUCCEEDED, created_by=operator,
                   started_at=FINISHED - dt.timedelta(seconds=20), finished_at=FINISHED)
    add_model_call(run, 1, [SYSTEM, QUESTION], response=reply(None, [("lookup_order", {"order": 1042})]))
    add_tool_call(run, 2, result={"status": "shipped"})
    add_model_call(run, 3, [RESULT], previous=1, response=reply("It shipped."))
    return run


def test_opening_a_model_step_fetches_its_prompt(logged_in_page, conversation):
    page = logged_in_page("olivia", "pw")
    prompts = []
    page.on("request", lambda request: "/prompt/" in request.url and prompts.append(request.url))
    page.goto(f"/runs/{conversation.pk}/")
    step = page.locator(f"#step-{conversation.pk}-3")
    page.wait_for_timeout(300)
    assert prompts == [] and step.locator(".prompt-view").count() == 0  # nothing until it is opened

    step.locator("summary").click()

    step.locator(".prompt-view").wait_for()
    assert "4 messages sent, 1 new in this call" in step.locator(".prompt-view").inner_text()
    assert step.locator(".msg.added").inner_text().count("shipped") == 1
    assert len(prompts) == 1 and prompts[0].endswith(f"/runs/{conversation.pk}/steps/3/prompt/")


def test_times_show_in_the_viewers_time_zone_with_utc_on_hover(logged_in_page, conversation):
    page = logged_in_page("olivia", "pw", timezone_id="Asia/Tokyo", locale="en-US")
    page.goto(f"/runs/{conversation.pk}/")

    finished = page.locator("#run-header dt:text-is('Finished') + dd time")
    finished.and_(page.locator("[data-local]")).wait_for()

    assert re.fullmatch(r"Jan 5, 18:31:00", finished.inner_text())  # 09:31 UTC is 18:31 in Tokyo
    assert finished.get_attribute("title") == "2026-01-05 09:31:00 UTC"


def test_without_javascript_the_server_time_stays(conversation, client, operator):
    client.force_login(operator)
    html = client.get(f"/runs/{conversation.pk}/").content.decode()

    assert 'title="2026-01-05 09:31:00 UTC">Jan 5, 09:31:00</time>' in html


@pytest.mark.parametrize("scheme, background", [("dark", "rgb(18, 21, 28)"), ("light", "rgb(246, 247, 249)")])
def test_pages_follow_the_systems_color_scheme(logged_in_page, conversation, scheme, background):
    page = logged_in_page("olivia", "pw", color_scheme=scheme)
    page.goto(f"/runs/{conversation.pk}/")

    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == background
    panel = page.evaluate("getComputedStyle(document.querySelector('.totals') || document.body).color")
    assert panel != background


def test_run_agent_starts_a_run_and_shows_its_trace(logged_in_page, operator, agent):
    page = logged_in_page("olivia", "pw")
    page.goto("/runs/")
    page.get_by_role("link", name="Run agent").click()
    page.select_option("select[name=agent]", "support")
    page.fill("textarea[name=message]", "Where is my order 1042?")
    page.fill("input[name=thread]", "browser-thread")

    page.get_by_role("button", name="Start the run").click()

    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}/$"))
    run = Run.objects.get()
    assert page.url.endswith(f"/runs/{run.pk}/")
    assert run.input == {"message": "Where is my order 1042?"} and run.thread == "browser-thread"
    assert "Where is my order 1042?" in page.locator("#run-io").inner_text()


def test_replay_opens_the_new_runs_trace(logged_in_page, conversation):
    page = logged_in_page("olivia", "pw")
    page.goto(f"/runs/{conversation.pk}/")

    page.get_by_role("button", name="Replay this run").click()

    page.wait_for_url(lambda url: str(conversation.pk) not in url and "/runs/" in url)
    replay = Run.objects.exclude(pk=conversation.pk).get()
    assert page.url.endswith(f"/runs/{replay.pk}/")
    assert replay.metadata["replay_of"] == str(conversation.pk) and replay.input == conversation.input
    assert "Replay of run" in page.locator(".messages").inner_text()


def test_times_swapped_in_by_a_live_page_are_local_too(logged_in_page, operator, agent):
    run = make_run(agent, status=RunStatus.RUNNING)
    Run.objects.filter(pk=run.pk).update(created_at=FINISHED)
    page = logged_in_page("olivia", "pw", timezone_id="Asia/Tokyo", locale="en-US")
    page.goto(f"/runs/{run.pk}/")
    page.evaluate("document.querySelector('#run-header').dataset.first = '1'")

    # The live page's catch-up sends the header again (out of band): a new element, localized too.
    page.wait_for_function("!document.querySelector('#run-header').dataset.first")
    created = page.locator("#run-header dt:text-is('Created') + dd time")
    created.and_(page.locator("[data-local]")).wait_for()

    assert created.inner_text() == "Jan 5, 18:31:00"
