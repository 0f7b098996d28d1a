import pytest
from rest_framework.test import APIClient


@pytest.fixture
def bearer():
    """bearer(raw_key) → an API client sending `Authorization: Bearer <raw_key>`."""

    def make(raw_key: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        return client

    return make
