"""Settings come from the environment: SQLite tuned for concurrent writers by default, PostgreSQL and
Redis when configured, and no production start without a secret key."""

import json
import os
import subprocess
import sys

import pytest
from django.db import connection

from agentops.settings import database_from_url
from tests.support import workers


def settings_in_subprocess(env: dict, expression: str = "None", module: str = "agentops.settings"):
    """Import `module` in a fresh interpreter with only `env` (and no .env file unless `env` names
    one in AGENTOPS_ENV_FILE), printing `expression` as JSON."""
    return subprocess.run(
        [sys.executable, "-c", f"import json, {module} as s; print(json.dumps({expression}))"],
        cwd=workers.ROOT, env={"PATH": "/usr/bin:/bin", "AGENTOPS_ENV_FILE": "", **env},
        capture_output=True, text=True, timeout=60,
    )


def settings_value(env: dict, expression: str, module: str = "agentops.settings"):
    result = settings_in_subprocess(env, expression, module)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_sqlite_url_gets_wal_immediate_transactions_and_a_busy_timeout():
    config = database_from_url("sqlite:////var/lib/agentops/db.sqlite3")

    assert config["ENGINE"] == "agentops.sqlite"
    assert config["NAME"] == "/var/lib/agentops/db.sqlite3"
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert config["OPTIONS"]["timeout"] >= 5
    assert "PRAGMA journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert "PRAGMA busy_timeout=" in config["OPTIONS"]["init_command"]


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_a_postgres_url_gets_the_postgresql_backend(scheme):
    config = database_from_url(f"{scheme}://agentops:s3cret@db.internal:5433/agentops")

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["PASSWORD"]) == ("agentops", "agentops", "s3cret")
    assert (config["HOST"], config["PORT"]) == ("db.internal", 5433)
    assert config["CONN_HEALTH_CHECKS"] is True
    assert "transaction_mode" not in config.get("OPTIONS", {})


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the pragmas are SQLite's")
def test_a_sqlite_connection_really_runs_in_wal_mode_with_a_busy_timeout(db):
    with connection.cursor() as cursor:
        journal_mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        busy_timeout = cursor.execute("PRAGMA busy_timeout").fetchone()[0]

    assert journal_mode == "wal"
    assert busy_timeout >= 5000


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the pragmas are SQLite's")
def test_a_sqlite_connection_runs_synchronous_normal_and_the_backend_syncs_its_log(db):
    # The settings ask for no synchronous level; the backend sets NORMAL and syncs the log after
    # each commit itself (tests/test_sqlite_backend.py shows the syncs).
    with connection.cursor() as cursor:
        synchronous = cursor.execute("PRAGMA synchronous").fetchone()[0]

    assert "synchronous" not in connection.settings_dict["OPTIONS"]["init_command"].lower()
    assert synchronous == 1  # NORMAL
    assert connection.wal_path == connection.settings_dict["NAME"] + "-wal"


def test_without_debug_a_missing_secret_key_stops_the_start():
    result = settings_in_subprocess({})

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_with_debug_the_project_starts_without_any_configuration():
    engine = settings_value({"DEBUG": "1"}, "s.DATABASES['default']['ENGINE']")

    assert engine == "agentops.sqlite"


def test_without_debug_cookies_are_secure():
    cookies = settings_value({"SECRET_KEY": "x" * 50}, "[s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.DEBUG]")

    assert cookies == [True, True, False]


def test_with_debug_cookies_also_work_over_plain_http():
    cookies = settings_value({"DEBUG": "1"}, "[getattr(s, 'SESSION_COOKIE_SECURE', False), "
                                             "getattr(s, 'CSRF_COOKIE_SECURE', False)]")

    assert cookies == [False, False]


def test_redis_url_switches_the_task_queue_and_channel_layer_to_redis():
    redis = "redis://cache.internal:6379/2"

    cluster, layer = settings_value({"DEBUG": "1", "REDIS_URL": redis},
                                    "[s.Q_CLUSTER, s.CHANNEL_LAYERS['default']]")

    assert cluster["redis"] == redis and "orm" not in cluster
    assert layer == {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis]}}


def test_without_redis_the_task_queue_uses_the_database_and_channels_stay_in_memory():
    cluster, layer = settings_value({"DEBUG": "1"}, "[s.Q_CLUSTER, s.CHANNEL_LAYERS['default']]")

    assert cluster["orm"] == "default" and "redis" not in cluster
    assert layer == {"BACKEND": "channels.layers.InMemoryChannelLayer"}


def test_the_configuration_cache_is_in_memory_by_default_and_in_redis_with_redis_url():
    local = settings_value({"DEBUG": "1"}, "s.CACHES['config']['BACKEND']")
    shared = settings_value({"DEBUG": "1", "REDIS_URL": "redis://cache.internal:6379/2"}, "s.CACHES['config']")

    assert local == "django.core.cache.backends.locmem.LocMemCache"
    assert shared["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert shared["LOCATION"] == "redis://cache.internal:6379/2"


def test_api_request_counts_are_in_memory_by_default_and_in_redis_with_redis_url():
    local = settings_value({"DEBUG": "1"}, "s.CACHES['throttle']['BACKEND']")
    shared = settings_value({"DEBUG": "1", "REDIS_URL": "redis://cache.internal:6379/2"}, "s.CACHES['throttle']")

    assert local == "django.core.cache.backends.locmem.LocMemCache"
    assert shared == {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                      "LOCATION": "redis://cache.internal:6379/2", "KEY_PREFIX": "agentops-throttle"}


def test_the_task_retry_stays_above_its_timeout():
    cluster = settings_value({"DEBUG": "1", "TASK_TIMEOUT": "120"}, "s.Q_CLUSTER")

    assert cluster["timeout"] == 120 and cluster["retry"] > cluster["timeout"]


def test_a_dotenv_file_configures_what_the_environment_does_not(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("# written by make run\nDEBUG=1\nSECRET_KEY=from-the-file\nWORKERS=7\n")

    debug, secret, workers_ = settings_value({"AGENTOPS_ENV_FILE": str(dotenv)},
                                             "[s.DEBUG, s.SECRET_KEY, s.Q_CLUSTER['workers']]")

    assert (debug, secret, workers_) == (True, "from-the-file", 7)


def test_the_environment_wins_over_the_dotenv_file(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("DEBUG=1\nSECRET_KEY=from-the-file\n")

    debug, secret = settings_value({"AGENTOPS_ENV_FILE": str(dotenv), "DEBUG": "0", "SECRET_KEY": "y" * 50},
                                   "[s.DEBUG, s.SECRET_KEY]")

    assert (debug, secret) == (False, "y" * 50)


def test_the_test_settings_never_read_a_dotenv_file(tmp_path):
    # Given a .env that would change what the tests run with
    dotenv = tmp_path / ".env"
    dotenv.write_text("OPENAI_API_KEY=sk-from-a-developer\nREDIS_URL=redis://127.0.0.1:1/0\n")

    # When the test settings load, even with the file named explicitly
    key, redis, env_file = settings_value({"AGENTOPS_ENV_FILE": str(dotenv)},
                                          "[s.OPENAI_API_KEY, s.REDIS_URL, s.ENV_FILE]", module="tests.settings")

    # Then it is not read
    assert (key, redis, env_file) == ("", "", "")


def test_this_test_run_read_no_dotenv_file(settings):
    assert settings.ENV_FILE == "" and os.environ["AGENTOPS_ENV_FILE"] == ""
