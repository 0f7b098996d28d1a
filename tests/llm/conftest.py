import pytest

from agentops.llm.openai_provider import OpenAIProvider
from tests.support.openai_server import OpenAIServer

API_KEY = "sk-test-0123456789abcdef"


@pytest.fixture
def openai_server():
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def provider(openai_server):
    """The OpenAI provider pointed at the local server."""
    return OpenAIProvider(api_key=API_KEY, base_url=openai_server.base_url)


@pytest.fixture
def user_says():
    """user_says("text") -> a conversation holding one user message."""
    return lambda text: [{"role": "user", "content": text}]
