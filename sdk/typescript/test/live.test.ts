// Against the real app, when the Python suite runs this (tests/sdk/test_typescript.py) with the app
// served by daphne and a worker, a key of an operator and a webhook delivery the app's sender made.
import assert from "node:assert/strict";
import { test } from "node:test";

import { AgentOpsError, createClient, verifyWebhook } from "../src/index.js";

const { AGENTOPS_TEST_BASE_URL: baseUrl, AGENTOPS_TEST_API_KEY: apiKey, AGENTOPS_TEST_WEBHOOK: webhook } = process.env;
const live = { skip: baseUrl && apiKey ? false : "no live server (run through tests/sdk/test_typescript.py)" };

test("create runs, read one back, list them a page of one at a time", live, async () => {
  const client = createClient({ apiKey, baseUrl });
  const run = await client.runs.create({ agent: "helper", message: "from TypeScript", metadata: { via: "ts" } });
  const newer = await client.runs.create({ agent: "helper", message: "and again" });
  assert.equal(run.status, "queued");
  assert.deepEqual((await client.runs.get(run.id)).metadata, { via: "ts" });
  const listed = [];
  for await (const item of client.runs.list({ agent: "helper", limit: 1 })) listed.push(item.id);
  assert.deepEqual(listed.slice(0, 2), [newer.id, run.id]);
});

test("the same idempotency key returns the same run", live, async () => {
  const client = createClient({ apiKey, baseUrl });
  const first = await client.runs.create({ agent: "helper", message: "once" }, { idempotencyKey: "ts-once" });
  const again = await client.runs.create({ agent: "helper", message: "once" }, { idempotencyKey: "ts-once" });
  assert.equal(first.id, again.id);
});

test("a run's events stream to its end", live, async () => {
  const client = createClient({ apiKey, baseUrl });
  const run = await client.runs.create({ agent: "helper", message: "stream me" });
  const events = [];
  for await (const event of client.streamRun(run.id)) events.push(event);
  const end = events.at(-1)!;
  assert.equal(events[0].type, "status");
  assert.ok(end.type === "end" && end.data.status === "succeeded" && end.data.id === run.id);
  const steps = events.flatMap((event) => (event.type === "step" ? [Number(event.id)] : []));
  assert.ok(steps.length > 0 && end.id === String(steps.at(-1)), JSON.stringify(steps));
  const resumed = [];
  for await (const event of client.streamRun(run.id, { lastEventId: steps[0] })) resumed.push(event);
  assert.deepEqual(resumed.flatMap((event) => (event.type === "step" ? [Number(event.id)] : [])), steps.slice(1));
});

test("an API error is thrown with its code, status and details", live, async () => {
  const client = createClient({ apiKey, baseUrl });
  await assert.rejects(client.runs.create({ agent: "nobody", message: "hi" }),
    (error: unknown) => error instanceof AgentOpsError && error.code === "unknown_agent" && error.status === 400);
  await assert.rejects(createClient({ apiKey: "ak_wrong", baseUrl }).runs.get("3f2b8c1e-0000-4000-8000-000000000001"),
    (error: unknown) => error instanceof AgentOpsError && error.status === 401);
});

test("a delivery signed by the app verifies; tampered, it does not", { skip: webhook ? false : live.skip || "no delivery" },
  async () => {
    const { body, headers, secret } = JSON.parse(webhook!) as { body: string; headers: Record<string, string>; secret: string };
    assert.equal(((await verifyWebhook(body, headers, secret)) as { event: string }).event, "approval.requested");
    await assert.rejects(verifyWebhook(body.replace("approval.requested", "approval.decided"), headers, secret));
  });

// Through a proxy that fails on purpose (tests/sdk/proxy.py), its faults queued by the Python
// side in this order: a 503 after forwarding a create, a 429 with Retry-After: 1 instead of a
// list, a 503 after forwarding a cancel.
const { AGENTOPS_TEST_PROXY_URL: proxyUrl } = process.env;

test("a create retried after a 503 returns the run the server made; a 429 waits; a cancel is not retried",
  { skip: proxyUrl ? live.skip : "no proxy" }, async () => {
    const direct = createClient({ apiKey, baseUrl });
    const client = createClient({ apiKey, baseUrl: proxyUrl });
    const run = await client.runs.create({ agent: "helper", message: "exactly once via TypeScript" });
    assert.deepEqual([(await direct.runs.get(run.id)).id], [run.id]);
    const started = Date.now();
    for await (const item of client.runs.list({ limit: 1 })) { assert.ok(item.id); break; }
    assert.ok(Date.now() - started >= 900, "the 429's Retry-After was waited");
    await assert.rejects(client.runs.cancel(run.id), (error: unknown) => error instanceof AgentOpsError && error.status === 503);
  });
