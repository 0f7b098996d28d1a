"""The evals page: an honest placeholder until evaluation suites exist."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_evals_page_says_no_suites_exist_yet(client, operator):
    client.force_login(operator)

    response = client.get(reverse("evals:index"))
    html = response.content.decode()

    assert response.status_code == 200
    assert "No evaluation suites yet" in html
    assert '<form' not in html.split('<main', 1)[1].split('</main>', 1)[0]  # nothing to submit, nothing pretends to run


def test_anonymous_visitors_are_sent_to_the_login_form(client):
    response = client.get(reverse("evals:index"))

    assert response.status_code == 302
    assert response.headers["Location"].startswith(reverse("login"))
