/**
 * Retries with backoff, by the Python SDK's rules (docs/clients.md, "Errors, retries, idempotency"):
 * reads, and requests carrying an `Idempotency-Key` (creates), are retried on 429, 5xx and
 * connection failures; any other write only when it provably did not take effect — a 429 (the
 * server refused it before acting). Backoff: 0.5 s doubling to at most 8 s, less up to 25% of
 * jitter, or the server's `Retry-After` when it asks for 60 s or less.
 */

const RETRIED_STATUSES = new Set([429, 500, 502, 503, 504]);
const MAX_RETRY_AFTER_SECONDS = 60;

export interface RetryOptions {
  /** Retries after the first attempt (default 2). */
  maxRetries?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function replayable(request: Request): boolean {
  return request.method === "GET" || request.method === "HEAD" || request.headers.has("Idempotency-Key");
}

function backoffMs(attempt: number, response?: Response): number {
  const retryAfter = Number(response?.headers.get("Retry-After"));
  if (Number.isFinite(retryAfter) && retryAfter >= 0 && retryAfter <= MAX_RETRY_AFTER_SECONDS) {
    return retryAfter * 1000;
  }
  return Math.min(500 * 2 ** attempt, 8000) * (1 - Math.random() * 0.25);
}

/** A `fetch` that retries as above; the request's body is sent again from a copy each time. */
export function retryingFetch(fetchImpl: typeof fetch, options: RetryOptions = {}): typeof fetch {
  const maxRetries = options.maxRetries ?? 2;
  return async (input, init) => {
    const request = new Request(input, init);
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= maxRetries;
      let response: Response;
      try {
        response = await fetchImpl(request.clone());
      } catch (error) {
        // No answer: whether the server acted is unknown, so only a replayable request goes again.
        if (last || !replayable(request) || request.signal.aborted) throw error;
        await sleep(backoffMs(attempt));
        continue;
      }
      const retried = response.status === 429 || (replayable(request) && RETRIED_STATUSES.has(response.status));
      if (last || !retried) return response;
      await response.body?.cancel();
      await sleep(backoffMs(attempt, response));
    }
  };
}
