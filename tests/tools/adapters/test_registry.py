import pytest

from tools.adapters import ADAPTERS, get_adapter
from tools.adapters.http import HttpAdapter


def test_every_adapter_is_registered_under_its_kind():
    # Given/When the registry / Then each adapter sits under its own kind
    assert {"http", "graphql", "sql", "mcp", "grpc", "python"} <= set(ADAPTERS)
    assert all(kind == adapter.kind for kind, adapter in ADAPTERS.items())


def test_get_adapter_builds_the_adapter_for_a_kind(secrets):
    # Given/When an http tool is built / Then it is an HttpAdapter holding the stored config
    adapter = get_adapter("http", {"url": "https://api.example.com/x"}, secrets)
    assert isinstance(adapter, HttpAdapter) and adapter.config == {"url": "https://api.example.com/x"}


def test_get_adapter_refuses_an_unknown_kind(secrets):
    # Given/When an unknown kind / Then a ValueError names it
    with pytest.raises(ValueError, match="'smtp'"):
        get_adapter("smtp", {}, secrets)


def test_get_adapter_refuses_an_invalid_config(secrets):
    # Given/When an http tool without a URL / Then the config is refused
    with pytest.raises(ValueError, match="'url' is required"):
        get_adapter("http", {"method": "GET"}, secrets)
