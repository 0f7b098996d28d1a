import pytest

from agentops.llm.demo_provider import DemoProvider
from agentops.llm.openai_provider import OpenAIProvider
from agentops.llm.registry import get_provider
from agentops.llm.scripted_provider import ScriptedProvider


def test_default_is_the_demo_provider_without_key_or_base_url(settings):
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""

    assert isinstance(get_provider("default"), DemoProvider)


def test_default_is_openai_when_a_base_url_is_set_and_calls_it(settings, openai_server, user_says):
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = openai_server.base_url
    openai_server.reply("from the server")

    provider = get_provider("default")
    response = provider.complete(model="gpt-4o-mini", messages=user_says("Hi"), tools=[])

    assert isinstance(provider, OpenAIProvider)
    assert response.content == "from the server"


def test_config_base_url_overrides_the_setting(settings, openai_server):
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"

    provider = get_provider("openai", {"base_url": openai_server.base_url, "timeout": 5})

    assert provider.base_url == openai_server.base_url


def test_scripted_provider_plays_the_responses_in_config():
    provider = get_provider("scripted", {"responses": [{"content": "scripted"}]})

    response = provider.complete(model="m", messages=[{"role": "user", "content": "Hi"}], tools=[])

    assert isinstance(provider, ScriptedProvider) and response.content == "scripted"


def test_unknown_name_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="demo") as caught:
        get_provider("anthropic")

    assert "openai" in str(caught.value) and "scripted" in str(caught.value)
