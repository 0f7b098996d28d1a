"""Settings for the test suite: the project's settings with a test secret and a fast hasher.

The SQLite test database is a file, not memory, so that worker processes started by the
crash and lease tests see the same data as the test itself.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")

from agentops.settings import *  # noqa: E402,F403
from agentops.settings import BASE_DIR, DATABASES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".test-db.sqlite3")}
