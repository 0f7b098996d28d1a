"""Fresh databases for every repetition, made from a migrated template.

Migrating takes seconds, so each backend is migrated once per benchmark invocation into a
template: a SQLite file (copied per repetition) or a PostgreSQL database (cloned per repetition
with CREATE DATABASE ... TEMPLATE). Copies carry the settings' pragmas: journal_mode=WAL is
stored in the file; commits are made durable by the SQLite backend (agentops.sqlite).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

from bench.env import ROOT, TMP, django_env

PG_TEMPLATE = "agentops_bench_tpl"


def sqlite_url(path) -> str:
    return f"sqlite:///{path}"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def sqlite_path(url: str) -> str:
    return url[len("sqlite:///"):] if url.startswith("sqlite:////") else url[len("sqlite://"):]


def pg_url_for(base_url: str, dbname: str) -> str:
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def _psycopg_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def pg_admin(base_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(_psycopg_url(base_url), autocommit=True) as conn:
        conn.execute(sql)


def migrate(database_url: str) -> None:
    """`manage.py migrate` (which also syncs the Python tools' registry rows) into `database_url`."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"],
        cwd=ROOT, env=django_env(database_url), capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"migrate failed for {database_url}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def sqlite_template() -> str:
    """A migrated SQLite file to copy from; made anew by every benchmark invocation."""
    TMP.mkdir(parents=True, exist_ok=True)
    path = TMP / f"template-{os.getpid()}.sqlite3"
    remove_sqlite(str(path))
    migrate(sqlite_url(path))
    conn = sqlite3.connect(path)
    try:  # fold the WAL into the main file so that a plain copy of it is complete
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return str(path)


def pg_template(base_url: str) -> str:
    """A migrated PostgreSQL database to clone from; returns its name."""
    pg_admin(base_url, f"DROP DATABASE IF EXISTS {PG_TEMPLATE}")
    pg_admin(base_url, f"CREATE DATABASE {PG_TEMPLATE}")
    migrate(pg_url_for(base_url, PG_TEMPLATE))
    return PG_TEMPLATE


def remove_sqlite(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal", ".writer-lock"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass


class FreshDatabase:
    """A new database copied from the template; `url` for the settings; `drop()` removes it.

    `template` is a SQLite file path or a PostgreSQL URL whose database is the template.
    """

    def __init__(self, template: str, tag: str):
        self.template = template
        if template.startswith(("postgres://", "postgresql://")):
            self.kind = "postgres"
            self.name = f"agentops_bench_{tag}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            # Clone: no other session may be connected to the template meanwhile.
            for attempt in range(50):
                try:
                    pg_admin(template, f"CREATE DATABASE {self.name} TEMPLATE {urlsplit(template).path[1:]}")
                    break
                except Exception as exc:  # noqa: BLE001  "source database is being accessed by other users"
                    if "being accessed" not in str(exc) or attempt == 49:
                        raise
                    time.sleep(0.1)
            self.url = pg_url_for(template, self.name)
        else:
            self.kind = "sqlite"
            TMP.mkdir(parents=True, exist_ok=True)
            self.name = str(TMP / f"{tag}-{os.getpid()}-{uuid.uuid4().hex[:6]}.sqlite3")
            shutil.copyfile(template, self.name)
            self.url = sqlite_url(self.name)

    def drop(self) -> None:
        if self.kind == "sqlite":
            remove_sqlite(self.name)
            return
        if "django.db" in sys.modules:  # this process may hold connections to it
            from django.db import connections

            connections.close_all()
        pg_admin(self.template, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
