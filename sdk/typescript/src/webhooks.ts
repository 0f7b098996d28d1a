import { WebhookVerificationError } from "./errors.js";

export const SIGNATURE_HEADER = "X-AgentOps-Signature";

export type HeaderBag = Headers | Record<string, string | string[] | undefined>;

export interface VerifyOptions {
  /** How far the signature's timestamp may be from now, in seconds (default 300). */
  tolerance?: number;
  /** Now, in Unix seconds (default the clock). */
  now?: number;
}

/**
 * Checks `X-AgentOps-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` and returns the
 * parsed JSON body; throws WebhookVerificationError otherwise. Pass the raw body as received.
 * WebCrypto (`crypto.subtle`): Node 18+, Deno, Bun, browsers and edge runtimes.
 */
export async function verifyWebhook(
  payload: string | Uint8Array,
  headers: HeaderBag,
  secret: string,
  { tolerance = 300, now = Date.now() / 1000 }: VerifyOptions = {},
): Promise<unknown> {
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const { timestamp, signatures } = parseSignature(headerValue(headers));
  if (Math.abs(now - timestamp) > tolerance) {
    throw new WebhookVerificationError(`The signature's timestamp is more than ${tolerance} s from now.`);
  }
  const expected = await hmacHex(secret, concat(new TextEncoder().encode(`${timestamp}.`), body));
  if (!signatures.some((signature) => constantTimeEqual(signature, expected))) {
    throw new WebhookVerificationError("No signature matches the body and the secret.");
  }
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch (error) {
    throw new WebhookVerificationError(`The body is not JSON: ${error}`);
  }
}

function headerValue(headers: HeaderBag): string {
  const wanted = SIGNATURE_HEADER.toLowerCase();
  const value = headers instanceof Headers
    ? headers.get(wanted)
    : Object.entries(headers).find(([name]) => name.toLowerCase() === wanted)?.[1];
  const first = Array.isArray(value) ? value[0] : value;
  if (!first) throw new WebhookVerificationError(`No ${SIGNATURE_HEADER} header.`);
  return first;
}

function parseSignature(header: string): { timestamp: number; signatures: string[] } {
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const item of header.split(",")) {
    const [name, value = ""] = item.trim().split(/=(.*)/s, 2);
    if (name === "t" && /^\d+$/.test(value)) timestamp = Number(value);
    else if (name === "v1") signatures.push(value);
  }
  if (timestamp === undefined || signatures.length === 0) {
    throw new WebhookVerificationError(`Malformed ${SIGNATURE_HEADER} header: ${JSON.stringify(header)}.`);
  }
  return { timestamp, signatures };
}

async function hmacHex(secret: string, data: BufferSource): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" },
    false, ["sign"]);
  const digest = new Uint8Array(await crypto.subtle.sign("HMAC", key, data));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

function constantTimeEqual(a: string, b: string): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) difference |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return difference === 0;
}
