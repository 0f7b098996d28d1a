import { createParser, type EventSourceMessage } from "eventsource-parser";

import { AgentOpsError, errorFrom } from "./errors.js";
import type { components } from "./schema.js";

type Schemas = components["schemas"];

export interface StatusChange {
  run: string;
  status: Schemas["RunStatusEnum"];
  waiting_on: string | null;
  updated_at: string;
}

export interface Delta {
  seq: number;
  delta: string;
}

/** An event of a run's stream (docs/streaming.md); `id` is a step's seq where the event has one. */
export type RunEvent =
  | { type: "step"; id: string; data: Schemas["Step"] }
  | { type: "status"; data: StatusChange }
  | { type: "approval"; data: Schemas["ApprovalRequest"] }
  | { type: "delta"; data: Delta }
  | { type: "end"; id: string; data: Schemas["Run"] };

export interface StreamOptions {
  /** Start after this step seq (sent as Last-Event-ID). */
  lastEventId?: string | number;
  signal?: AbortSignal;
  /** Connections in a row that may end without an event before giving up (default 5). */
  maxReconnects?: number;
}

export interface StreamTransport {
  baseUrl: string;
  headers: Record<string, string>;
  fetch: typeof fetch;
}

/**
 * A run's events as they happen, until `end`. A connection that drops (or closes before `end`)
 * is reopened with `Last-Event-ID: <last step seq>`, and the server resumes exactly after it.
 */
export async function* streamRun(transport: StreamTransport, runId: string,
  { lastEventId, signal, maxReconnects = 5 }: StreamOptions = {}): AsyncGenerator<RunEvent> {
  let last = lastEventId === undefined ? undefined : String(lastEventId);
  let failures = 0;
  let retryMs = 1000;
  for (;;) {
    const events: RunEvent[] = [];
    const parser = createParser({
      onEvent: (message) => events.push(typed(message)),
      onRetry: (interval) => { retryMs = interval; },
    });
    try {
      const response = await open(transport, runId, last, signal);
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        parser.feed(chunk.value);
        for (const event of events.splice(0)) {
          failures = 0;
          if (event.type === "step") last = event.id;
          yield event;
          if (event.type === "end") return;
        }
      }
    } catch (error) {
      if (signal?.aborted || error instanceof AgentOpsError) throw error;
    }
    if (++failures > maxReconnects) {
      throw new AgentOpsError("The run's event stream kept dropping.", "stream_dropped", 0);
    }
    await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
}

async function open(transport: StreamTransport, runId: string, last: string | undefined,
  signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { ...transport.headers, Accept: "text/event-stream" };
  if (last !== undefined) headers["Last-Event-ID"] = last;
  const response = await transport.fetch(`${transport.baseUrl}/api/v1/runs/${runId}/events/`, { headers, signal });
  if (!response.ok) {
    const text = await response.text();
    throw errorFrom(response.status, safeJson(text), text);
  }
  return response;
}

function typed(message: EventSourceMessage): RunEvent {
  const data = JSON.parse(message.data);
  return (message.id === undefined ? { type: message.event, data } : { type: message.event, id: message.id, data }) as RunEvent;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
