"""The runs list, in the API and on the page: cursor pages, filters, previews, text search."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from agentops.keyset import Cursor, InvalidCursor
from agentops.tenancy.roles import Role
from runs.models import PREVIEW_CHARS, Run, RunStatus
from runs.preview import input_preview, output_preview
from runs.selectors import run_list
from agentops.agents.models import AgentVersion
from tests.factories import AgentFactory
from tests.support.runs_journal import make_run

pytestmark = pytest.mark.django_db


def runs_at(agent, count, *, same_time=False, **fields) -> list[Run]:
    """`count` runs, newest first, a second apart (or all at one instant, to test the tie-breaker)."""
    start = timezone.now() - dt.timedelta(hours=1)
    runs = []
    for n in range(count):
        run = make_run(agent, **fields)
        Run.objects.filter(pk=run.pk).update(created_at=start if same_time else start + dt.timedelta(seconds=n))
        runs.append(run)
    return sorted(Run.objects.filter(pk__in=[r.pk for r in runs]), key=lambda r: (r.created_at, r.pk), reverse=True)


def walk(query, size):
    """Every page from the newest, following `next`; then back, following `previous`."""
    pages, cursor = [], None
    while True:
        page = query.page(cursor=cursor, size=size)
        pages.append(page.items)
        if page.next is None:
            break
        cursor = page.next
    back, cursor = [], pages and page.previous
    while cursor:
        page = query.page(cursor=cursor, size=size)
        back.append(page.items)
        cursor = page.previous
    return pages, back


@pytest.mark.parametrize("same_time", [False, True])
def test_pages_by_cursor_cover_every_run_once_forward_and_back(principal, agent, same_time):
    runs = runs_at(agent, 7, same_time=same_time)

    forward, back = walk(run_list(principal=principal), 3)

    assert [len(p) for p in forward] == [3, 3, 1]
    assert [r for p in forward for r in p] == runs
    assert [r for p in reversed(back) for r in p] == runs[:6]  # back from the last page to the first


def test_the_first_page_has_no_previous_and_the_last_no_next(principal, agent):
    runs_at(agent, 2)

    page = run_list(principal=principal).page(size=2)

    assert (page.next, page.previous) == (None, None)


def test_runs_started_by_and_for_a_user_page_as_one_list_without_duplicates(principal, agent, member, operator):
    alice = member("alice", Role.VIEWER)
    mine = runs_at(agent, 3, created_by=alice) + runs_at(agent, 3, created_by=operator, on_behalf_of=alice)
    runs_at(agent, 2, created_by=operator)
    both = make_run(agent, created_by=alice, on_behalf_of=alice)
    expected = sorted([*mine, both], key=lambda r: (r.created_at, r.pk), reverse=True)

    forward, _ = walk(run_list(principal=principal, user=alice), 4)

    assert [r for p in forward for r in p] == expected


def test_a_cursor_signed_elsewhere_or_altered_is_refused(principal, agent):
    query = run_list(principal=principal)
    good = Cursor((timezone.now(), agent.pk)).encode()

    for text in ["garbage", good[:-2] + "xx", good.replace(good[0], "A" if good[0] != "A" else "B", 1)]:
        with pytest.raises(InvalidCursor):
            query.cursor(text)


def test_filters_by_version_thread_and_status(principal, agent, tenant):
    second = AgentVersion.objects.create(agent=agent, number=2, provider="demo", model="demo")
    old = make_run(agent, thread="t-1")
    new = make_run(agent, status=RunStatus.FAILED)
    Run.objects.filter(pk=new.pk).update(agent_version=second)

    def ids(**filters):
        return [r.pk for r in run_list(principal=principal, **filters).page(size=10).items]

    assert ids(agent=agent.slug, version=2) == [new.pk] and ids(agent=agent.slug, version=1) == [old.pk]
    assert ids(agent=agent.slug, version=9) == []
    assert ids(thread="t-1") == [old.pk] and ids(status="failed") == [new.pk]


# -- previews and search -------------------------------------------------------------------------


def test_previews_are_short_single_line_texts_of_input_and_output():
    assert input_preview({"message": "Refund\n  order  #1043"}) == "Refund order #1043"
    assert input_preview({"order_id": 7}) == '{"order_id":7}'
    assert output_preview({"answer": "Done.", "tool_calls": 1}) == "Done."
    assert output_preview(None, {"code": "x", "message": "boom"}) == "boom"
    long = input_preview({"message": "word " * 200})
    assert len(long) == PREVIEW_CHARS and long.endswith("…")


def test_a_run_started_and_finished_through_the_engine_gets_its_previews(start_run, advance):
    run = advance(start_run("agent_loop", {"message": "Where is order 1042?"}, provider="scripted",
                            provider_config={"responses": [{"content": "It ships tomorrow."}]}))

    assert (run.input_preview, run.output_preview) == ("Where is order 1042?", "It ships tomorrow.")


def test_search_matches_words_of_the_input_or_the_output_in_any_case(start_run, advance, principal):
    run = advance(start_run("agent_loop", {"message": "Refund order 1043"}, provider="scripted",
                            provider_config={"responses": [{"content": "The refund was APPROVED."}]}))
    advance(start_run("agent_loop", {"message": "Where is order 1042?"}, provider="scripted",
                      provider_config={"responses": [{"content": "It ships tomorrow."}]}))

    def found(q):
        return [r.pk for r in run_list(principal=principal, q=q).page(size=10).items]

    assert found("1043") == [run.pk] and found("approved") == [run.pk]
    assert found("refund approved") == [run.pk]  # one word in the input, one in the output
    assert found("refund tomorrow") == [] and found("nothing") == []
    assert len(found("order")) == 2


def test_search_punctuation_is_not_query_syntax(start_run, advance, principal):
    advance(start_run("agent_loop", {"message": 'Refund "order" 7'}, provider="scripted",
                      provider_config={"responses": [{"content": "ok"}]}))

    assert len(run_list(principal=principal, q='"order* (refund').page(size=10).items) == 1


def test_search_sees_only_the_principals_tenant(start_run, advance, principal, other_tenant):
    advance(start_run("agent_loop", {"message": "Refund order 1043"}, provider="scripted",
                      provider_config={"responses": [{"content": "ok"}]}))
    foreign = make_run(AgentFactory(tenant=other_tenant), input_preview="Refund order 1043")

    assert foreign.pk not in [r.pk for r in run_list(principal=principal, q="1043").page(size=10).items]


# -- the API ---------------------------------------------------------------------------------------


def test_api_pages_by_next_and_previous_links(api, agent):
    runs = runs_at(agent, 5)

    first = api.get("/api/v1/runs/?limit=2").json()
    second = api.get(first["next"]).json()
    back = api.get(second["previous"]).json()

    assert [r["id"] for r in first["results"] + second["results"]] == [str(r.pk) for r in runs[:4]]
    assert first["previous"] is None and back["results"] == first["results"]
    assert "count" not in first


@pytest.mark.parametrize("query, code", [
    ("cursor=not-a-cursor", "invalid_cursor"),
    ("status=bogus", "invalid"),
    ("version=2", "invalid"),
    ("agent=support&version=0", "invalid"),
    ("limit=501", "invalid"),
])
def test_api_refuses_bad_filters_and_cursors_with_the_envelope(api, agent, query, code):
    response = api.get(f"/api/v1/runs/?{query}")

    assert response.status_code == 400 and response.json()["error"]["code"] == code


def test_api_filters_by_version_and_words(api, agent, start_run, advance):
    make_run(agent, input={"message": "nothing to see"})
    run = advance(start_run("agent_loop", {"message": "Refund order 1043"}, provider="scripted",
                            provider_config={"responses": [{"content": "ok"}]}))

    assert [r["id"] for r in api.get("/api/v1/runs/?q=refund").json()["results"]] == [str(run.pk)]
    assert [r["id"] for r in api.get(f"/api/v1/runs/?agent={run.agent.slug}&version=1").json()["results"]] == [
        str(run.pk)]


# -- the page --------------------------------------------------------------------------------------


@pytest.fixture
def browser(client, operator):
    client.force_login(operator)
    return client


def test_page_shows_previews_and_pages_by_cursor_keeping_the_filters(browser, agent):
    runs = runs_at(agent, 52, status=RunStatus.SUCCEEDED)
    Run.objects.filter(pk=runs[0].pk).update(input_preview="Refund order 1043", output_preview="Refunded $20.")

    first = browser.get(reverse("runs:list"), {"status": "succeeded"})
    older = browser.get(reverse("runs:list") + first.context["older"])

    html = first.content.decode()
    assert "Refund order 1043" in html and "Refunded $20." in html
    assert "status=succeeded" in first.context["older"] and first.context["newer"] is None
    assert [r.pk for r in older.context["page"].items] == [r.pk for r in runs[50:]]
    assert older.context["older"] is None and older.context["newer"]


def test_page_with_an_altered_cursor_shows_the_newest_runs_and_says_why(browser, agent):
    runs_at(agent, 2)

    response = browser.get(reverse("runs:list"), {"cursor": "altered"})

    assert response.status_code == 200 and len(response.context["page"].items) == 2
    assert "not one this list gave out" in response.content.decode()


def test_page_filters_by_words_thread_and_version(browser, agent):
    second = AgentVersion.objects.create(agent=agent, number=2, provider="demo", model="demo")
    wanted = make_run(agent, thread="t-9", input_preview="Cancel subscription 55")
    Run.objects.filter(pk=wanted.pk).update(agent_version=second)
    make_run(agent, thread="t-9")

    def shown(**query):
        return [r.pk for r in browser.get(reverse("runs:list"), query).context["page"].items]

    assert shown(q="subscription") == [wanted.pk]
    assert shown(agent=agent.slug, version=2) == [wanted.pk]
    assert len(shown(thread="t-9")) == 2
