import pytest

from agentops.audit.services import Actor
from agentops.llm.base import ProviderError
from agentops.llm.demo_provider import DemoProvider
from agentops.llm.openai_provider import OpenAIProvider
from agentops.llm.registry import get_provider
from agentops.llm.scripted_provider import ScriptedProvider
from agentops.secrets.services import secret_set


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


def test_config_base_url_overrides_the_setting(settings, openai_server, allow_outbound):
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    allow_outbound(openai_server.base_url)

    provider = get_provider("openai", {"base_url": openai_server.base_url, "timeout": 5})

    assert provider.base_url == openai_server.base_url


# An agent's base_url is its tenant's choice: the platform's key never goes there


def test_a_tenants_server_gets_the_tenants_key_not_the_platforms(settings, tenant, openai_server, allow_outbound,
                                                                 user_says):
    settings.OPENAI_API_KEY = "sk-platform-0123456789"
    secret_set(tenant=tenant, name="MY_LLM_KEY", value="sk-tenant-abcdef", actor=Actor.system("test"))
    allow_outbound(openai_server.base_url)
    openai_server.reply("hello")

    provider = get_provider("openai", {"base_url": openai_server.base_url, "api_key_secret": "MY_LLM_KEY"},
                            tenant_id=tenant.pk)
    provider.complete(model="m", messages=user_says("Hi"), tools=[])
    get_provider("openai", {"base_url": openai_server.base_url}, tenant_id=tenant.pk).complete(
        model="m", messages=user_says("Hi"), tools=[])

    sent = [request.headers.get("authorization") for request in openai_server.chat_requests]
    assert sent == ["Bearer sk-tenant-abcdef", "Bearer no-key"]


def test_a_tenants_server_on_this_machine_is_refused_and_receives_nothing(settings, tenant, openai_server, user_says):
    settings.OPENAI_API_KEY = "sk-platform-0123456789"

    provider = get_provider("openai", {"base_url": openai_server.base_url}, tenant_id=tenant.pk)
    with pytest.raises(ProviderError) as caught:
        provider.complete(model="m", messages=user_says("Hi"), tools=[])

    assert caught.value.retryable is False and "Refused to connect" in caught.value.message
    assert openai_server.requests == []


def test_another_tenants_secret_is_not_a_key(tenant, other_tenant):
    secret_set(tenant=other_tenant, name="THEIR_KEY", value="sk-theirs-123456", actor=Actor.system("test"))

    with pytest.raises(ProviderError, match="THEIR_KEY"):
        get_provider("openai", {"base_url": "https://llm.example/v1", "api_key_secret": "THEIR_KEY"},
                     tenant_id=tenant.pk)


def test_scripted_provider_plays_the_responses_in_config():
    provider = get_provider("scripted", {"responses": [{"content": "scripted"}]})

    response = provider.complete(model="m", messages=[{"role": "user", "content": "Hi"}], tools=[])

    assert isinstance(provider, ScriptedProvider) and response.content == "scripted"


def test_unknown_name_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="demo") as caught:
        get_provider("anthropic")

    assert "openai" in str(caught.value) and "scripted" in str(caught.value)
