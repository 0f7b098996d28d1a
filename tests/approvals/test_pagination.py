"""Keyset pages of approvals: every request once, in order, however long the queue; cursors that
cannot be forged; no cap on the inbox page."""

from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.core import signing
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.models import ApprovalRequest
from approvals.pagination import InvalidCursor, page_get
from approvals.views import INBOX_PAGE_SIZE


@pytest.fixture
def api_of(api_key_for, tenant):
    def make(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(user, tenant)}")
        return client

    return make


@pytest.fixture
def queue(refund_request):
    """queue(n) → n pending requests, oldest first; pairs share a created_at to exercise ties."""

    def make(n):
        requests = [refund_request() for _ in range(n)]
        start = timezone.now() - timedelta(hours=1)
        for index, request in enumerate(requests):
            ApprovalRequest.objects.filter(pk=request.pk).update(created_at=start + timedelta(seconds=index // 2))
        return [r.pk for r in requests]

    return make


def walk(queryset, size, cursor=None, key="next"):
    seen, pages = [], 0
    while True:
        page = page_get(queryset, cursor=cursor, size=size)
        seen += [r.pk for r in page.items]
        pages += 1
        cursor = getattr(page, key)
        if cursor is None:
            return seen, pages


def test_next_pages_list_every_request_once_in_order_even_with_equal_times(queue):
    ids = queue(7)

    seen, pages = walk(ApprovalRequest.objects.all(), size=3)

    assert seen == ids and pages == 3


def test_previous_pages_go_back_to_the_first(queue):
    ids = queue(7)
    last = page_get(ApprovalRequest.objects.all(), cursor=page_get(ApprovalRequest.objects.all(), cursor=
                    page_get(ApprovalRequest.objects.all(), cursor=None, size=3).next, size=3).next, size=3)
    assert [r.pk for r in last.items] == ids[6:]

    back = page_get(ApprovalRequest.objects.all(), cursor=last.previous, size=3)
    first = page_get(ApprovalRequest.objects.all(), cursor=back.previous, size=3)

    assert [r.pk for r in back.items] == ids[3:6]
    assert [r.pk for r in first.items] == ids[:3] and first.previous is None and first.next is not None


def test_a_request_decided_meanwhile_shifts_nothing(queue):
    ids = queue(6)
    first = page_get(ApprovalRequest.objects.all(), cursor=None, size=3)
    ApprovalRequest.objects.filter(pk=ids[1]).delete()

    second = page_get(ApprovalRequest.objects.all(), cursor=first.next, size=3)

    assert [r.pk for r in second.items] == ids[3:]


@pytest.mark.parametrize("cursor", ["nonsense", "WyJuIiwiMjAyNi0wMS0wMVQwMDowMDowMCIsMV0:forged"])
def test_a_made_up_cursor_is_refused(db, cursor):
    with pytest.raises(InvalidCursor):
        page_get(ApprovalRequest.objects.all(), cursor=cursor, size=3)


def test_a_cursor_signed_for_something_else_is_refused(db):
    other = signing.dumps(["n", timezone.now().isoformat(), 1], compress=False)  # no salt: not ours

    with pytest.raises(InvalidCursor):
        page_get(ApprovalRequest.objects.all(), cursor=other, size=3)


def test_the_api_links_next_and_previous_pages(queue, api_of, approver):
    ids = queue(5)
    client = api_of(approver)

    first = client.get("/api/v1/approvals/?status=pending&limit=2").json()
    second = client.get(first["next"]).json()
    back = client.get(second["previous"]).json()

    assert [r["id"] for r in first["results"]] == ids[:2] and first["previous"] is None
    assert [r["id"] for r in second["results"]] == ids[2:4] and "status=pending" in first["next"]
    assert [r["id"] for r in back["results"]] == ids[:2]


def test_the_api_answers_a_tampered_cursor_with_400_invalid_cursor(queue, api_of, approver):
    queue(3)
    client = api_of(approver)
    link = client.get("/api/v1/approvals/?limit=1").json()["next"]
    cursor = parse_qs(urlsplit(link).query)["cursor"][0]

    response = client.get("/api/v1/approvals/", {"cursor": cursor.replace(":", "x", 1)})

    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_cursor"


def test_the_api_refuses_offsets(queue, api_of, approver):
    response = api_of(approver).get("/api/v1/approvals/?offset=50")

    assert response.status_code == 400 and "offset" in response.json()["error"]["details"]


def test_the_inbox_page_shows_every_request_a_page_at_a_time(queue, client, approver):
    ids = queue(INBOX_PAGE_SIZE + 3)
    client.force_login(approver)

    first = client.get("/inbox/").content.decode()
    newer = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(newer).content.decode()

    assert first.count('id="approval-') == INBOX_PAGE_SIZE and 'rel="prev"' not in first
    assert [f'id="approval-{pk}"' in second for pk in ids[-3:]] == [True] * 3
    assert second.count('id="approval-') == 3 and 'rel="prev"' in second


def test_the_inbox_page_keeps_its_page_in_polls(queue, client, approver):
    queue(INBOX_PAGE_SIZE + 1)
    client.force_login(approver)
    cursor = unquote(client.get("/inbox/").content.decode().split("cursor=")[1].split('"')[0])

    page = client.get("/inbox/", {"cursor": cursor}).content.decode()

    assert f'id="inbox-cursor" name="cursor" value="{cursor}"' in page


def test_the_inbox_page_answers_a_tampered_cursor_readably(db, client, approver):
    client.force_login(approver)

    response = client.get("/inbox/?cursor=forged")

    assert response.status_code == 400
    assert "start again from the first page" in response.content.decode()


def test_an_empty_page_past_the_end_links_back(queue):
    ids = queue(4)
    first = page_get(ApprovalRequest.objects.all(), cursor=None, size=2)
    ApprovalRequest.objects.filter(pk__in=ids[2:]).delete()

    empty = page_get(ApprovalRequest.objects.all(), cursor=first.next, size=2)
    back = page_get(ApprovalRequest.objects.all(), cursor=empty.previous, size=2)

    # Back from the boundary the empty page's cursor named: the rows before the first page's last
    assert empty.items == [] and empty.next is None
    assert [r.pk for r in back.items] == ids[:1]
