import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";

import { AgentOpsError, createClient, type RunEvent } from "../src/index.js";

const RUN = "3f2b8c1e-0000-4000-8000-000000000001";
const sse = (event: string, data: unknown, id?: number) =>
  `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
const step = (seq: number) => sse("step", { seq, kind: "code", name: `s${seq}`, status: "completed" }, seq);

// Each connection plays the next script: its text, then either the end of the response or a cut
// connection (the socket destroyed mid-body).
type Script = { text: string; cut?: boolean; status?: number };
const scripts: Script[] = [];
const seen: Array<string | undefined> = [];
const server = createServer((request: IncomingMessage, response: ServerResponse) => {
  seen.push(request.headers["last-event-id"] as string | undefined);
  const script = scripts.shift() ?? { text: "", status: 500 };
  response.writeHead(script.status ?? 200, { "Content-Type": "text/event-stream" });
  response.write(script.text);
  if (script.cut) setTimeout(() => response.socket?.destroy(), 20);
  else response.end();
});
let client: ReturnType<typeof createClient>;

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  client = createClient({ apiKey: "ak_test", baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});
after(() => server.close());

async function collect(events: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const all: RunEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

test("events are typed, deltas carry text, and the stream stops at end", async () => {
  seen.length = 0;
  scripts.push({ text: "retry: 10\n\n: keepalive\n\n" + sse("status", { run: RUN, status: "running" }) + step(1)
    + sse("delta", { seq: 2, delta: "Hel" }) + sse("delta", { seq: 2, delta: "lo" }) + sse("end", { id: RUN, status: "succeeded" }, 1) });
  const events = await collect(client.streamRun(RUN));
  assert.deepEqual(events.map((event) => event.type), ["status", "step", "delta", "delta", "end"]);
  assert.equal(events.flatMap((event) => (event.type === "delta" ? [event.data.delta] : [])).join(""), "Hello");
  const last = events.at(-1)!;
  assert.ok(last.type === "end" && last.data.status === "succeeded");
});

test("a dropped connection resumes with Last-Event-ID after the last step", async () => {
  seen.length = 0;
  scripts.push({ text: "retry: 10\n\n" + step(1) + step(2) + "event: st", cut: true },
    { text: step(3) + sse("end", { id: RUN, status: "succeeded" }, 3) });
  const events = await collect(client.streamRun(RUN, { lastEventId: 0 }));
  assert.deepEqual(events.filter((event) => event.type === "step").map((event) => event.id), ["1", "2", "3"]);
  assert.deepEqual(seen, ["0", "2"]);
});

test("an error before the stream starts is thrown with its code", async () => {
  scripts.push({ text: JSON.stringify({ error: { code: "not_found", message: "no run", details: null } }), status: 404 });
  await assert.rejects(collect(client.streamRun(RUN)),
    (error: unknown) => error instanceof AgentOpsError && error.code === "not_found" && error.status === 404);
});

test("a stream that keeps dropping without an event gives up", async () => {
  scripts.push(...Array.from({ length: 3 }, () => ({ text: "retry: 10\n\n: keepalive\n\n", cut: true })));
  await assert.rejects(collect(client.streamRun(RUN, { maxReconnects: 2 })),
    (error: unknown) => error instanceof AgentOpsError && error.code === "stream_dropped");
});
