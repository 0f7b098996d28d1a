/** An error the API answered (`{"error": {"code", "message", "details"}}`) or a failure to reach it (`status` 0). */
export class AgentOpsError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
    readonly details: unknown = null,
  ) {
    super(message);
    this.name = "AgentOpsError";
  }
}

/** A webhook delivery whose signature is missing, wrong or too old. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

interface Envelope {
  error?: { code?: string; message?: string; details?: unknown };
}

/** The AgentOpsError for an API answer of status 400 or more, from its JSON envelope. */
export function errorFrom(status: number, body: unknown, fallback = ""): AgentOpsError {
  const error = (body as Envelope | undefined)?.error;
  if (error?.code && error.message) {
    return new AgentOpsError(error.message, error.code, status, error.details ?? null);
  }
  return new AgentOpsError(fallback || `HTTP ${status}`, "http_error", status);
}
