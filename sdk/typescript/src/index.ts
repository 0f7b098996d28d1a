/**
 * The AgentOps API from TypeScript: a typed openapi-fetch client over every path of the schema
 * (`client.api`), helpers for the calls product code makes most, a run's live event stream and
 * webhook verification.
 *
 *   const client = createClient({ apiKey: process.env.AGENTOPS_API_KEY });
 *   const run = await client.runs.create({ agent: "support", message: "Where is my order #1042?" });
 *   for await (const event of client.streamRun(run.id)) console.log(event.type, event.data);
 */
import createFetchClient, { type Client } from "openapi-fetch";

import { AgentOpsError, errorFrom } from "./errors.js";
import { retryingFetch } from "./retry.js";
import type { components, paths } from "./schema.js";
import { streamRun, type RunEvent, type StreamOptions } from "./stream.js";

export { AgentOpsError, WebhookVerificationError } from "./errors.js";
export type { components, paths } from "./schema.js";
export type { Delta, RunEvent, StatusChange, StreamOptions } from "./stream.js";
export { retryingFetch, type RetryOptions } from "./retry.js";
export { SIGNATURE_HEADER, verifyWebhook, type VerifyOptions } from "./webhooks.js";

type Schemas = components["schemas"];
export type Run = Schemas["Run"];
export type Step = Schemas["Step"];
export type ApprovalRequest = Schemas["ApprovalRequest"];
export type Agent = Schemas["Agent"];
export type Tool = Schemas["Tool"];
export type RunCreate = Schemas["RunCreateRequest"];

export interface ClientOptions {
  /** Default: the AGENTOPS_API_KEY environment variable (where there is one). */
  apiKey?: string;
  /** The server's root. Default: AGENTOPS_BASE_URL, else http://127.0.0.1:8000. */
  baseUrl?: string;
  fetch?: typeof fetch;
  /** Retries of a failed request (default 2), by the rules of `retryingFetch` (src/retry.ts). */
  maxRetries?: number;
}

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of an openapi-fetch answer, or its error envelope thrown as an AgentOpsError. */
export async function unwrap<T>(answer: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await answer;
  if (error !== undefined || data === undefined) throw errorFrom(response.status, error, response.statusText);
  return data;
}

export function createClient(options: ClientOptions = {}) {
  // process.env where there is one (Node, Bun, Deno's compatibility); browsers have none.
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
  const apiKey = options.apiKey ?? env.AGENTOPS_API_KEY;
  if (!apiKey) throw new AgentOpsError("No API key: pass apiKey or set AGENTOPS_API_KEY.", "no_api_key", 0);
  const baseUrl = (options.baseUrl ?? env.AGENTOPS_BASE_URL ?? "http://127.0.0.1:8000").replace(/\/+$/, "");
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const headers = { Authorization: `Bearer ${apiKey}` };
  const api: Client<paths> = createFetchClient<paths>({
    baseUrl, headers, fetch: retryingFetch(fetchImpl, { maxRetries: options.maxRetries }),
  });

  /** Every item of a list, following its `next` links (cursor or offset) page after page. */
  async function* pages<T>(first: Promise<Answer<{ next?: string | null; results: T[] }>>,
    follow: (query: Record<string, string>) => Promise<Answer<{ next?: string | null; results: T[] }>>) {
    for (let page = await unwrap(first); ; page = await unwrap(follow(Object.fromEntries(new URL(page.next!).searchParams)))) {
      yield* page.results;
      if (!page.next) return;
    }
  }

  type RunQuery = NonNullable<paths["/api/v1/runs/"]["get"]["parameters"]["query"]>;
  type ApprovalQuery = NonNullable<paths["/api/v1/approvals/"]["get"]["parameters"]["query"]>;

  return {
    /** The typed client for every path of the API: `api.GET("/api/v1/tools/{name}/", ...)`. */
    api,
    runs: {
      /** Start a run; `idempotencyKey` (one is made when not given) makes a repeated call return the same run. */
      create: (body: RunCreate, { idempotencyKey = crypto.randomUUID() }: { idempotencyKey?: string } = {}) =>
        // Without `"stream": true` the answer is the run's JSON (the schema also lists the stream's events).
        unwrap(api.POST("/api/v1/runs/", { body, params: { header: { "Idempotency-Key": idempotencyKey } } })) as
          Promise<Run>,
      get: (runId: string) => unwrap(api.GET("/api/v1/runs/{run_id}/", { params: { path: { run_id: runId } } })),
      list: (query: RunQuery = {}): AsyncGenerator<Run> =>
        pages(api.GET("/api/v1/runs/", { params: { query } }),
          (next) => api.GET("/api/v1/runs/", { params: { query: next as RunQuery } })),
      cancel: (runId: string) =>
        unwrap(api.POST("/api/v1/runs/{run_id}/cancel/", { params: { path: { run_id: runId } } })),
    },
    approvals: {
      list: (query: ApprovalQuery = {}): AsyncGenerator<ApprovalRequest> =>
        pages(api.GET("/api/v1/approvals/", { params: { query } }),
          (next) => api.GET("/api/v1/approvals/", { params: { query: next as ApprovalQuery } })),
      approve: (id: number, body: Schemas["ApprovalApproveInputRequest"]) =>
        unwrap(api.POST("/api/v1/approvals/{id}/approve/", { params: { path: { id } }, body })),
      reject: (id: number, body: Schemas["ApprovalRejectInputRequest"]) =>
        unwrap(api.POST("/api/v1/approvals/{id}/reject/", { params: { path: { id } }, body })),
    },
    /** The run's events until `end`, resuming a dropped connection (docs/streaming.md). */
    streamRun: (runId: string, options?: StreamOptions): AsyncGenerator<RunEvent> =>
      streamRun({ baseUrl, headers, fetch: fetchImpl }, runId, options),
  };
}

export type AgentOpsClient = ReturnType<typeof createClient>;
