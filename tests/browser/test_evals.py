"""The evals pages in a real browser: the suite's chart drawn by Chart.js with its matrix, and a
case added to a suite from a run's trace."""

import json

import pytest

from evals.models import EvalSuite
from tests.support.evals import finished_run, make_history

pytest_plugins = ["tests.support.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Whether the canvas has any pixel drawn: Chart.js draws the axes, the line and its points.
CANVAS_PAINTED = """(canvas) => {
  const {width, height} = canvas;
  const pixels = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  return width > 0 && height > 0 && pixels.some((value, index) => index % 4 === 3 && value > 0);
}"""


def test_the_suite_page_draws_the_pass_rate_chart_and_the_matrix(logged_in_page, screenshot, tenant, operator):
    history = make_history(tenant)
    page = logged_in_page("olivia", "pw")

    page.goto("/evals/")
    page.click("text=support-basics")
    page.wait_for_selector("canvas#pass-rate-chart[data-drawn=true]")

    canvas = page.locator("canvas#pass-rate-chart")
    assert canvas.evaluate(CANVAS_PAINTED)
    assert page.evaluate("Chart.getChart('pass-rate-chart').data.datasets[0].data") == [100, 33.3]
    assert page.locator(".evals-matrix tbody tr").count() == len(history.cases)
    assert page.locator(".evals-matrix td.cell.fail").count() == 1
    assert page.locator(".evals-matrix td.cell.flaky").count() == 1
    screenshot(page, "evals-suite", docs=True, full_page=True)


def test_a_case_is_added_to_a_new_suite_from_a_runs_trace(logged_in_page, tenant, operator):
    run = finished_run(operator, tenant, "greeter", "Hello")
    page = logged_in_page("olivia", "pw")

    page.goto(f"/runs/{run.pk}/")
    page.click("text=Add to eval suite")
    page.fill("input[name=new_suite]", "greetings")
    page.fill("input[name=name]", "says hello")
    assertions = json.loads(page.input_value("textarea[name=assertions]"))
    page.fill("textarea[name=assertions]", json.dumps(assertions + [{"type": "icontains", "value": "help"}]))
    page.click("text=Save case")
    page.wait_for_selector(".evals-matrix")

    assert "Case “says hello” added to greetings." in page.locator(".messages").inner_text()
    case = EvalSuite.objects.get(tenant=tenant, name="greetings").cases.get()
    assert case.message == "Hello"
    assert case.assertions == [{"type": "equals", "value": "Hello! How can I help you today?"},
                               {"type": "icontains", "value": "help"}]
    assert page.locator(".evals-matrix tbody td", has_text="says hello").count() == 1
