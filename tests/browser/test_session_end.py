"""A page left open after its session ended, in a real browser: the page's next HTMX poll takes
the browser to the login form, which brings it back to the page, instead of swapping the login
form into the page."""

import pytest
from django.contrib.sessions.models import Session

pytest_plugins = ["tests.support.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_poll_after_the_session_ended_takes_the_browser_to_the_login_form_and_back(logged_in_page, operator):
    # Given an operator's inbox, whose list polls every 5 s
    page = logged_in_page("olivia", "pw")
    page.goto("/inbox/")
    page.wait_for_selector("#inbox-list")

    # When the session ends while the page is open (expired, or signed out in another tab)
    Session.objects.all().delete()

    # Then the next poll takes the whole browser to the login form, which comes back here
    page.wait_for_url("**/accounts/login/?next=/inbox/", timeout=20_000)
    assert page.locator("input[name=username]").count() == 1  # one form: the page's own, not one swapped in
    assert page.locator("#inbox-list").count() == 0
    page.fill("input[name=username]", "olivia")
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    page.wait_for_url("**/inbox/")
    page.wait_for_selector("#inbox-list")
