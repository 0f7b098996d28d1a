"""Browser tests: Chromium driven by Playwright against a server of the test database.

Load these fixtures from a test module with

    pytest_plugins = ["tests.support.browser"]

and mark its tests `@pytest.mark.browser`. What is here:

- `chromium`: a headless Chromium (the system's /usr/bin/chromium), one per test module.
- `live_server` (pytest-django's, WSGI in a thread): HTTP and polling; the default.
- `asgi_server`: the real ASGI stack (daphne via `runserver`) in a subprocess, with a private
  Redis for the channel layer when `redis-server` is installed, for websocket tests. It shares
  the test database, which is a file (tests/settings.py), so the test must be transactional.
  The test process publishes on the same Redis (CHANNEL_LAYERS is overridden for the test).
- `logged_in_page(username, password, base_url=None, **context_options)`: a fresh browser context
  (Playwright's options: `color_scheme`, `timezone_id`, ...), signed in.
- `screenshot(page, name, docs=False)`: saves artifacts/<name>.png; with `docs` true and
  UPDATE_SCREENSHOTS=1 in the environment, also docs/screenshots/<name>.png (the README shows
  those), so an ordinary test run leaves the work tree clean.

Playwright's sync API keeps an event loop in the test's thread, so Django would refuse ORM calls
from the test as "async unsafe": the `chromium` fixture sets DJANGO_ALLOW_ASYNC_UNSAFE while it
lives and puts it back afterwards, so tests outside browser modules keep the check.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.workers import test_database_url

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1360, "height": 900}


@contextlib.contextmanager
def _env(name: str, value: str):
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with _env("DJANGO_ALLOW_ASYNC_UNSAFE", "true"), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def logged_in_page(chromium, live_server):
    """logged_in_page("olivia", "pw") → a Page signed in through the login form.

    `base_url` defaults to the live server; pass `asgi_server` for the ASGI one. Other keywords
    go to the browser context (`color_scheme="dark"`, `timezone_id="Asia/Tokyo"`).
    """
    contexts = []

    def login(username: str, password: str, base_url: str | None = None, **context_options):
        base_url = base_url or live_server.url
        context = chromium.new_context(base_url=base_url, viewport=VIEWPORT, **context_options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return page

    yield login
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot():
    """screenshot(page, "trace", docs=True, full_page=False) → the artifacts/ path written."""

    def take(page, name: str, *, docs: bool = False, full_page: bool = False) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        if docs and os.environ.get("UPDATE_SCREENSHOTS") == "1":
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_SCREENSHOTS / f"{name}.png")
        return path

    return take


# -- the ASGI server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s:\n{log.read_text()}")


@contextlib.contextmanager
def background_process(args: list[str], port: int, name: str, env: dict | None = None):
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"{name}-{os.getpid()}-{port}.log"
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        wait_for_port(port, process, log)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_url():
    """A private, throw-away Redis for the session (no persistence), or a skip without one."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    args = [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    with background_process(args, port, "redis"):
        yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def asgi_server(transactional_db, redis_url, settings):
    """The project's ASGI app (HTTP, static files, websockets) in a subprocess on the test database,
    with the Redis channel layer; this process publishes on the same layer. Yields the base URL."""
    port = free_port()
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DEBUG": "1", "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": test_database_url(), "REDIS_URL": redis_url,
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    settings.REDIS_URL = redis_url
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis_url]}}
    }
    args = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    with background_process(args, port, "asgi", env):
        yield f"http://127.0.0.1:{port}"
