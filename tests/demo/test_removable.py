"""AGENTOPS_DEMO=0 leaves the demo out: the project checks and migrates without it, keeps no demo
table, serves no demo URL and registers no demo tool; the demo can still be installed later.

Each test runs manage.py in fresh processes on a SQLite file of its own, with the project's
settings (the suite's own settings always install the demo)."""

import json
import shutil
import sqlite3
import subprocess
import sys

import pytest

from demo import DEMO_TOOL_NAMES
from tests.support import workers

DEMO_TABLES = {"demo_democustomer", "demo_demoorder", "demo_demorefund", "demo_demoarticle", "demo_demoticket"}


def manage(*args: str, database, demo: bool) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "agentops.settings", "SECRET_KEY": "x" * 50,
           "DATABASE_URL": f"sqlite:///{database}", "AGENTOPS_DEMO": "1" if demo else "0"}
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=workers.ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def query(database, sql: str) -> list[tuple]:
    with sqlite3.connect(database) as db:
        return db.execute(sql).fetchall()


@pytest.fixture(scope="module")
def migrated_without_the_demo(tmp_path_factory):
    """A fresh SQLite database migrated by the project without the demo app, after `check` passed."""
    database = tmp_path_factory.mktemp("no-demo") / "db.sqlite3"
    manage("check", database=database, demo=False)
    manage("migrate", "--noinput", database=database, demo=False)
    return database


def test_without_the_demo_the_project_migrates_and_keeps_no_demo_table(migrated_without_the_demo):
    tables = {name for (name,) in query(migrated_without_the_demo, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    applied = query(migrated_without_the_demo, "SELECT app, name FROM django_migrations WHERE app IN ('tools', 'demo')")

    assert "tools_tool" in tables
    assert not [table for table in tables if "demo" in table]
    assert ("tools", "0002_demo_tables_to_demo_app") in applied and not [app for app, _ in applied if app == "demo"]


def test_without_the_demo_nothing_serves_or_registers_it(tmp_path):
    probe = ("import json; from django.apps import apps; from django.urls import Resolver404, resolve; "
             "from tools.registry import REGISTRY\n"
             "try:\n    mounted = bool(resolve('/demo/billing/refunds'))\n"
             "except Resolver404:\n    mounted = False\n"
             "print(json.dumps([apps.is_installed('demo'), mounted, sorted(REGISTRY)]))")

    out = manage("shell", "--no-imports", "-c", probe, database=tmp_path / "db.sqlite3", demo=False).stdout

    installed, mounted, tools = json.loads(out)
    assert (installed, mounted) == (False, False)
    assert not set(tools) & set(DEMO_TOOL_NAMES)


def test_the_demo_installed_later_gets_its_tables_and_seeds(migrated_without_the_demo, tmp_path):
    database = tmp_path / "db.sqlite3"
    shutil.copy(migrated_without_the_demo, database)

    manage("migrate", "--noinput", database=database, demo=True)
    seeded = manage("seed_demo", database=database, demo=True).stdout

    # The demo's tables are in the demo database next to the main one, which seed_demo created
    demo_database = database.parent / "demo.sqlite3"
    tables = {name for (name,) in query(demo_database, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert DEMO_TABLES <= tables
    assert not DEMO_TABLES & {name for (name,) in query(database, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "created agent support" in seeded
    assert query(demo_database, "SELECT count(*) FROM demo_demoorder") == [(8,)]
