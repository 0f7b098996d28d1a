"""The evals pages: suites with their latest pass rate, a suite's history across versions, an eval
run's results; each with a fixed number of queries, and nothing of another tenant."""

import json
import re

import pytest
from django.urls import reverse

from agentops.tenancy.roles import Role
from tests.support.evals import add_eval_run, make_history

pytestmark = pytest.mark.django_db


def main_of(response) -> str:
    return response.content.decode().split("<main", 1)[1].split("</main>", 1)[0]


def test_the_index_lists_each_suite_with_its_latest_eval_run(client, operator, eval_history):
    client.force_login(operator)

    html = main_of(client.get(reverse("evals:index")))

    row = re.search(r"<tr>\s*<td><a href=\"/evals/suites/\d+/\">support-basics</a>.*?</tr>", html, re.S).group(0)
    assert "<td>support</td>" in row
    assert re.search(r'class="num">3</td>', row)  # cases
    assert f"#{eval_history.eval_runs[2].pk}</a> on v3" in row
    assert "Running" in row


def test_the_index_shows_the_latest_pass_rate(client, operator, eval_history):
    client.force_login(operator)
    add_eval_run(eval_history.suite, eval_history.versions[2], {case: [True] for case in eval_history.cases[:2]}
                 | {eval_history.cases[2]: [False]})

    html = main_of(client.get(reverse("evals:index")))

    assert re.search(r'class="num pass-rate"><span[^>]*>66\.7%</span>', html)


def test_the_index_says_how_to_start_when_there_is_no_suite(client, operator):
    client.force_login(operator)

    html = main_of(client.get(reverse("evals:index")))

    assert "No evaluation suites yet" in html
    assert "Add to eval suite" in html


def test_the_index_reads_a_fixed_number_of_queries(client, operator, tenant, django_assert_max_num_queries):
    client.force_login(operator)
    make_history(tenant, "support")
    client.get(reverse("evals:index"))  # warm the session and the caches
    with django_assert_max_num_queries(8) as few:
        client.get(reverse("evals:index"))
    for slug in ("billing", "notifier", "shop"):
        make_history(tenant, slug)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("evals:index"))

    assert main_of(response).count("-basics</a>") == 4


def test_the_suite_page_charts_the_pass_rate_of_each_version_with_its_table(client, operator, eval_history):
    client.force_login(operator)

    html = client.get(reverse("evals:suite", args=[eval_history.suite.pk])).content.decode()

    points = json.loads(re.search(r'<script id="pass-rate-points" type="application/json">(.*?)</script>',
                                  html, re.S).group(1))
    # v2: "greeting" passed one repeat of two, no majority; v3 still runs
    assert points == [{"label": "v1", "pass_rate": 100.0}, {"label": "v2", "pass_rate": 33.3}]
    assert 'src="/static/vendor/chart.umd.min.js"' in html
    versions = re.search(r'<table class="grid evals-versions">.*?</table>', html, re.S).group(0)
    assert re.findall(r'<td class="num">(\d+ / \d+)</td>', versions) == ["3 / 3", "1 / 3"]


def test_the_matrix_marks_failed_and_flaky_cases_per_version(client, operator, eval_history):
    client.force_login(operator)

    html = client.get(reverse("evals:suite", args=[eval_history.suite.pk])).content.decode()

    matrix = re.search(r'<table class="grid evals-matrix">.*?</table>', html, re.S).group(0)
    rows = {name: re.findall(r'class="cell (\w+)"', row)
            for name, row in re.findall(r'<td title="[^"]*">([^<]+)</td>(.*?)</tr>', matrix, re.S)}
    assert rows == {"refund policy": ["pass", "pass"], "order status": ["pass", "fail"],
                    "greeting": ["pass", "flaky"]}


def test_the_suite_page_reads_a_fixed_number_of_queries(client, operator, eval_history, django_assert_max_num_queries):
    client.force_login(operator)
    url = reverse("evals:suite", args=[eval_history.suite.pk])
    client.get(url)
    with django_assert_max_num_queries(10) as few:
        client.get(url)
    for _ in range(5):
        add_eval_run(eval_history.suite, eval_history.versions[2], {case: [True, False] for case in eval_history.cases})

    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url)


def test_the_eval_run_page_lists_each_case_with_its_assertions_and_traces(client, operator, eval_history):
    client.force_login(operator)
    v2 = eval_history.eval_runs[1]

    html = main_of(client.get(reverse("evals:run", args=[v2.pk])))

    rows = re.findall(r'<tr class="case-row ([\w ]+)">.*?<td title="[^"]*">([^<]+)</td>', html, re.S)
    assert rows == [("pass unchanged", "refund policy"), ("fail regressed", "order status"),
                    ("flaky flaky", "greeting")]
    assert re.search(r'<span class="eval-change regressed">1 regressed</span>\s*'
                     r'<span class="eval-change unchanged">1 unchanged</span>\s*'
                     r'<span class="eval-change flaky">1 flaky</span>', html)
    assert "&#x27;ok&#x27; is not in the answer" in html  # the failed repeat's explanation
    assert "hx-trigger" not in html  # finished: no polling


def test_a_running_eval_run_polls_its_progress(client, operator, eval_history):
    client.force_login(operator)
    running = eval_history.eval_runs[2]

    page = client.get(reverse("evals:run", args=[running.pk])).content.decode()
    partial = client.get(reverse("evals:run", args=[running.pk]), headers={"HX-Request": "true"}).content.decode()

    assert 'hx-trigger="every 2s"' in page
    assert '<progress class="eval-progress" value="1" max="3">' in page
    assert partial.startswith('<div id="eval-run"') and "<main" not in partial


def test_the_eval_run_page_links_each_result_to_its_run(client, operator, eval_history, agent_run):
    client.force_login(operator)
    result = eval_history.eval_runs[0].results.first()
    result.run = agent_run
    result.save()

    html = main_of(client.get(reverse("evals:run", args=[eval_history.eval_runs[0].pk])))

    assert f'href="/runs/{agent_run.pk}/"' in html


def test_the_eval_run_page_reads_a_fixed_number_of_queries(client, operator, tenant, eval_history,
                                                           django_assert_max_num_queries):
    client.force_login(operator)
    small = eval_history.eval_runs[0]
    client.get(reverse("evals:run", args=[small.pk]))
    with django_assert_max_num_queries(10) as few:
        client.get(reverse("evals:run", args=[small.pk]))
    big = add_eval_run(eval_history.suite, eval_history.versions[2],
                       {case: [True, False, True] for case in eval_history.cases})

    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("evals:run", args=[big.pk]))


@pytest.mark.parametrize("page", ["evals:suite", "evals:run"])
def test_another_tenants_suites_and_eval_runs_are_not_found(client, member, other_tenant, eval_history, page):
    stranger = member("stranger", Role.OWNER, in_tenant=other_tenant)
    client.force_login(stranger)
    target = eval_history.suite.pk if page == "evals:suite" else eval_history.eval_runs[0].pk

    assert client.get(reverse(page, args=[target])).status_code == 404
    assert "support-basics" not in main_of(client.get(reverse("evals:index")))


def test_anonymous_visitors_are_sent_to_the_login_form(client):
    response = client.get(reverse("evals:index"))

    assert response.status_code == 302
    assert response.headers["Location"].startswith(reverse("login"))


def test_run_suite_queues_an_eval_run_and_opens_its_page(client, operator, eval_history):
    client.force_login(operator)
    suite_page = client.get(reverse("evals:suite", args=[eval_history.suite.pk])).content.decode()
    assert 'action="/evals/suites/%d/run/"' % eval_history.suite.pk in suite_page

    response = client.post(reverse("evals:suite-run", args=[eval_history.suite.pk]),
                           {"version": "2", "repeat": "2", "baseline": str(eval_history.eval_runs[0].pk), "label": ""})

    eval_run = eval_history.suite.eval_runs.order_by("-pk").first()
    assert response.status_code == 302 and response.headers["Location"] == reverse("evals:run", args=[eval_run.pk])
    assert (eval_run.status, eval_run.agent_version.number, eval_run.repeats, eval_run.baseline_id) == (
        "queued", 2, 2, eval_history.eval_runs[0].pk)
    assert eval_run.created_by == operator


def test_run_suite_with_a_bad_choice_says_why_and_starts_nothing(client, operator, eval_history):
    client.force_login(operator)

    response = client.post(reverse("evals:suite-run", args=[eval_history.suite.pk]),
                           {"version": "7", "repeat": "1", "baseline": ""}, follow=True)

    assert "Select a valid choice" in response.content.decode()
    assert eval_history.suite.eval_runs.count() == 3


def test_a_viewer_sees_no_run_button_and_may_not_run(client, member, eval_history):
    client.force_login(member("vera", Role.VIEWER))

    page = client.get(reverse("evals:suite", args=[eval_history.suite.pk])).content.decode()
    response = client.post(reverse("evals:suite-run", args=[eval_history.suite.pk]), {"version": "1", "repeat": "1"})

    assert "Run suite" not in page and response.status_code == 403
    assert eval_history.suite.eval_runs.count() == 3
