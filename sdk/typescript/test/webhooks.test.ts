import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";

import { verifyWebhook, WebhookVerificationError } from "../src/index.js";

const SECRET = "whsec-ts-test";
const BODY = JSON.stringify({ id: "d1", event: "run.succeeded", data: { run: "r1" } });

function signed(body: string, timestamp: number, secret = SECRET): Record<string, string> {
  const digest = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  return { "x-agentops-signature": `t=${timestamp},v1=${digest}` };
}

test("a signed body verifies and is returned parsed", async () => {
  const now = 1_800_000_000;
  assert.deepEqual(await verifyWebhook(BODY, signed(BODY, now), SECRET, { now }), JSON.parse(BODY));
  assert.deepEqual(await verifyWebhook(new TextEncoder().encode(BODY), new Headers(signed(BODY, now)), SECRET, { now }),
    JSON.parse(BODY));
});

test("a tampered body, another secret, an old timestamp or a malformed header are refused", async () => {
  const now = 1_800_000_000;
  const refused = (promise: Promise<unknown>, message: RegExp) =>
    assert.rejects(promise, (error: unknown) => error instanceof WebhookVerificationError && message.test(error.message));
  await refused(verifyWebhook(BODY.replace("r1", "r2"), signed(BODY, now), SECRET, { now }), /No signature matches/);
  await refused(verifyWebhook(BODY, signed(BODY, now, "other"), SECRET, { now }), /No signature matches/);
  await refused(verifyWebhook(BODY, signed(BODY, now), SECRET, { now: now + 301 }), /300 s/);
  await refused(verifyWebhook(BODY, {}, SECRET, { now }), /No X-AgentOps-Signature/);
  await refused(verifyWebhook(BODY, { "X-AgentOps-Signature": "t=abc,v1=00" }, SECRET, { now }), /Malformed/);
});
