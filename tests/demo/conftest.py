# The demo's tools are exercised through the gateway like any tool: the same run factory.
from tests.tools.conftest import ACTOR, make_run  # noqa: F401

# The demo's tables live in the demo database: tests that touch them name it.
DEMO_DATABASES = ["default", "demo"]
