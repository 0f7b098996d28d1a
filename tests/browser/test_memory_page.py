"""The memory page in a real browser: typing a search swaps in the best items without a reload,
and an item is edited in place."""

import pytest

from agentops.memory.models import MemoryItem
from agentops.memory.services import memory_save

pytest_plugins = ["tests.support.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_searches_and_edits_their_memory(logged_in_page, screenshot, tenant, operator):
    for content in ("Olivia plays tennis on Sundays.", "Olivia is allergic to peanuts.", "Olivia lives in Lyon."):
        memory_save(tenant=tenant, scope="user", subject="olivia", kind="fact", content=content)
    page = logged_in_page("olivia", "pw")
    page.goto("/memory/")
    page.evaluate("window.__sameDocument = true")
    assert page.locator("table.memory-items tbody tr").count() == 3

    page.fill("#id_q", "where does she live")
    page.wait_for_function("document.querySelectorAll('table.memory-items tbody tr').length === 1")
    assert "Lyon" in page.locator("table.memory-items tbody tr").first.inner_text()
    assert page.evaluate("window.__sameDocument === true") and "q=" in page.url
    screenshot(page, "memory-search")

    row = page.locator("table.memory-items tbody tr").first
    row.locator("summary").click()
    row.locator("textarea[name=content]").fill("Olivia lives in Paris.")
    row.locator("button.primary").click()
    page.wait_for_selector("text=saved")
    assert MemoryItem.objects.filter(content="Olivia lives in Paris.").exists()
