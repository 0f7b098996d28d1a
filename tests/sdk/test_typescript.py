"""The TypeScript client (sdk/typescript) runs its own tests (node:test, compiled by tsc) here,
against the app served by daphne with a worker: a key of an operator of the tenant, an agent, and
a webhook delivery the app's sender made. Skipped, saying why, where Node is not installed."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from runs.models import Run
from tests.sdk.proxy import Fault, FaultyProxy
from tests.webhooks.conftest import SECRET

TYPESCRIPT = Path(__file__).resolve().parents[2] / "sdk" / "typescript"
NPM = shutil.which("npm")

pytestmark = [
    pytest.mark.skipif(NPM is None, reason="Node.js and npm are not installed: the TypeScript client is not tested"),
    pytest.mark.skipif(not (TYPESCRIPT / "node_modules").is_dir(),
                       reason="sdk/typescript/node_modules is missing: run scripts/install.sh (it runs npm ci)"),
    pytest.mark.slow, pytest.mark.django_db(transaction=True),
]


def test_the_typescript_client_passes_its_tests_against_the_app(web, helper, key, delivered):
    webhook = {"body": delivered.body.decode(), "secret": SECRET,
               "headers": {"X-AgentOps-Signature": delivered.headers["x-agentops-signature"]}}
    with FaultyProxy(web.base) as proxy:
        # A fault per request through the proxy (None: passed on), in the order of live.test.ts's
        # one test through it: a create and its retry, a list and its retry, a cancel.
        proxy.fail(Fault(503, forward=True), None, Fault(429, headers={"Retry-After": "1"}, forward=False), None,
                   Fault(503, forward=True))
        env = {**os.environ, "AGENTOPS_TEST_BASE_URL": web.base, "AGENTOPS_TEST_API_KEY": key,
               "AGENTOPS_TEST_WEBHOOK": json.dumps(webhook), "AGENTOPS_TEST_PROXY_URL": proxy.url}

        result = subprocess.run([NPM, "test", "--silent"], cwd=TYPESCRIPT, env=env, capture_output=True, text=True,
                                timeout=300)

    assert result.returncode == 0, f"{proxy.answered}\n{result.stdout[-5000:]}{result.stderr[-2000:]}"
    assert "# fail 0" in result.stdout and "# skipped 0" in result.stdout, result.stdout[-3000:]
    assert proxy.answered == [("POST", 503), ("POST", 200), ("GET", 429), ("GET", 200), ("POST", 503)]
    assert Run.objects.filter(input__message="exactly once via TypeScript").count() == 1
