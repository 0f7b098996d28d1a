"""Login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from
one address, that pair gets a readable lockout page (429) until the cool-off has passed; a good
login clears the count; the admin's login is guarded the same way; API keys are not affected."""

import time
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def alice():
    user = UserFactory(username="alice")
    user.set_password(PASSWORD)
    user.save()
    return user


def log_in(client, password, username="alice", path="/accounts/login/", address="127.0.0.1"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def fail(client, times, **where):
    return [log_in(client, "wrong", **where).status_code for _ in range(times)]


def test_the_fifth_wrong_password_locks_the_login_with_a_readable_page(client, alice, settings):
    assert settings.AXES_FAILURE_LIMIT == 5 and settings.AXES_COOLOFF_TIME == timedelta(minutes=15)
    assert fail(client, 4) == [200, 200, 200, 200]

    locked = log_in(client, "wrong")

    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "900"
    page = locked.content.decode()
    assert "Too many failed logins" in page and "<strong>alice</strong>" in page
    assert "failed 5 times" in page and "Try again in 15 minutes" in page
    assert 'href="/static/css/app.css"' in page  # the site's own page, not a bare message


def test_a_locked_login_refuses_even_the_right_password(client, alice):
    fail(client, 5)

    response = log_in(client, PASSWORD)

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lock_holds_one_username_at_one_address(client, alice):
    bob = UserFactory(username="bob")
    bob.set_password(PASSWORD)
    bob.save()
    fail(client, 5)

    assert log_in(client, PASSWORD, username="bob").status_code == 302
    client.logout()
    assert log_in(client, PASSWORD, address="10.0.0.7").status_code == 302


def test_a_good_login_clears_the_failures(client, alice):
    fail(client, 4)
    assert log_in(client, PASSWORD).status_code == 302
    client.logout()

    assert fail(client, 4) == [200, 200, 200, 200]
    assert log_in(client, PASSWORD).status_code == 302


def test_after_the_cooloff_the_right_password_logs_in(client, alice, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    fail(client, 5)
    assert log_in(client, PASSWORD).status_code == 429  # and the cool-off starts again

    time.sleep(1.1)

    assert log_in(client, PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_the_admin_login_is_locked_the_same_way(client, alice):
    alice.is_staff = True
    alice.save()

    statuses = fail(client, 5, path="/admin/login/")

    assert statuses == [200, 200, 200, 200, 429]
    assert b"Too many failed logins" in log_in(client, PASSWORD, path="/admin/login/").content


def test_a_locked_user_s_api_key_still_works(client, tenant, operator, api_key_for):
    fail(client, 5, username=operator.username)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(operator, tenant)}")

    assert api.get("/api/v1/agents/").status_code == 200
