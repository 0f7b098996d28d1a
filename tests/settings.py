"""Settings for the test suite: the project's settings with a test secret and a fast hasher.

The SQLite test database is a file, not memory, so that worker processes started by the
crash and lease tests see the same data as the test itself.

A developer's `.env` (written by `make run`) is not read: the tests run with the environment they
are given and nothing else. Processes the tests start inherit the empty AGENTOPS_ENV_FILE.
"""

import os
import tempfile

os.environ["AGENTOPS_ENV_FILE"] = ""
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
# The audit chains are signed with a configured key, as in production (tests of the key derived
# from SECRET_KEY override the setting).
os.environ.setdefault("AGENTOPS_AUDIT_KEYS", "tests-2026:tests-only-audit-key-0123456789abcdef")
# The suite runs with the demo installed whatever the environment says: its tools serve many tests.
os.environ["AGENTOPS_DEMO"] = "1"

from agentops.settings import *  # noqa: E402,F403
from agentops.settings import DATABASES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]

# One file per test process, so that concurrent test runs on one machine never share it. The demo
# database stays SQLite on PostgreSQL runs too.
for _alias in ("default", "demo"):
    if DATABASES[_alias]["ENGINE"] == "agentops.sqlite":
        DATABASES[_alias]["TEST"] = {"NAME": os.path.join(tempfile.gettempdir(), f"agentops-test-{_alias}-{os.getpid()}.sqlite3")}

# Workflows the worker-process tests run: imported by every process started with these settings.
WORKFLOW_MODULES = ["tests.support.workflows"]
