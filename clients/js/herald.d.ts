// Type declarations for herald.js, the Herald client (docs/protocol.md).

/** One event, in order per channel, never twice. */
export interface HeraldEvent<T = unknown> {
  channel: string;
  /** Position in the channel: +1 per event within an epoch. */
  seq: number;
  /** Names one unbroken history of the channel. */
  epoch: string;
  /** The publisher's type, if any (e.g. "reservation-created"). */
  type?: string;
  data: T;
  /** The publisher's idempotency key (SSE and polling only). */
  id?: string;
  /** Milliseconds since the Unix epoch when the broker sequenced it. */
  ts: number;
}

/** Continuity of a channel is lost: refetch its state; events go on after epoch/seq. */
export interface HeraldReset {
  channel: string;
  /** epoch-changed, expired, unknown-channel, cursor-ahead, unavailable,
   *  cursor-mismatch, or bad-cursor (the client's cursor was refused: it starts afresh). */
  reason: string;
  epoch: string | null;
  seq: number;
}

export type HeraldStatus = "connecting" | "open" | "reconnecting" | "polling" | "closed";
export type HeraldTransport = "ws" | "sse" | "poll";

export interface HeraldOptions {
  /** "sse" (default) or "ws". */
  transport?: "sse" | "ws";
  /** Returns a JWT; called at start, after a refusal (401, auth) and before the token expires. */
  getToken?: () => string | Promise<string>;
  /** ws -> sse -> polling when a proxy blocks streaming (default true). */
  fallback?: boolean;
  /** SSE: ask for `event: <type>` lines (typed=1); onEvent does not need it. */
  typed?: boolean;
  /** Full-jitter exponential backoff in ms (default {base: 500, cap: 30000}). */
  backoff?: { base?: number; cap?: number };
  /** SSE: no byte of a stream within this many ms means blocked (default 5000). */
  openTimeout?: number;
  /** SSE: no byte, heartbeats included, within this many ms means dead (default 45000). */
  idleTimeout?: number;
  /** Polling: ms between history requests (default 2000). */
  pollInterval?: number;
  /** Polling: events per history request, at most 1000 (default 100). */
  pollLimit?: number;
  /**
   * Polling: every this many ms, try an SSE stream from the cursor beside the polling; if it
   * brings a byte within openTimeout it replaces the polling (default 60000; 0: never).
   */
  streamRetry?: number;
  /** WebSocket connections closed before welcome, in a row, before falling back (default 2). */
  wsAttempts?: number;
  /** SSE streams that brought no byte, in a row, before polling (default 2). */
  sseAttempts?: number;
  /** fetch's credentials mode (default "same-origin"). */
  credentials?: RequestCredentials;
  /** A fetch to use instead of globalThis.fetch. */
  fetch?: typeof fetch;
  /** A WebSocket constructor to use instead of globalThis.WebSocket. */
  WebSocket?: typeof WebSocket;
}

export interface HeraldHandlers<T = unknown> {
  onEvent?: (event: HeraldEvent<T>) => void;
  onReset?: (reset: HeraldReset) => void;
  onStatus?: (status: HeraldStatus) => void;
  /** A refusal or a failed attempt (a HeraldError, or a network error). */
  onError?: (error: Error) => void;
}

export interface Subscription {
  readonly channels: string[];
  readonly status: HeraldStatus;
  /** Stops it: no handler is called afterwards. */
  close(): void;
}

export interface PublishResult {
  channel: string;
  seq: number;
  epoch: string;
  /** True when the key repeated an earlier publish: nothing was published. */
  duplicate: boolean;
}

export class HeraldError extends Error {
  /** HTTP status; 0 for a WebSocket error. */
  status: number;
  /** Herald's error code (docs/protocol.md §9, §11.8). */
  code: string;
  /** Whether the same request may succeed later. */
  retry: boolean;
  /** Milliseconds the server asked to wait, if it did. */
  retryAfter?: number;
}

export class Herald {
  /** @param url the gateway's base URL (default: the page's origin) */
  constructor(url?: string, options?: HeraldOptions);
  /** The transport in use now ("poll" after a fallback to polling). */
  readonly transport: HeraldTransport;
  subscribe<T = unknown>(channels: string | string[], handlers?: HeraldHandlers<T>): Subscription;
  /** Over the WebSocket when it is open, else HTTP POST /v1/publish. */
  publish(channel: string, data: unknown, options?: { type?: string; key?: string }): Promise<PublishResult>;
  on(event: "status", fn: (status: HeraldStatus, subscription: Subscription) => void): () => void;
  on(event: "error", fn: (error: Error, subscription?: Subscription) => void): () => void;
  /** Closes every subscription and the socket. */
  close(): void;
}

/** A random delay in [0, min(cap, base x 2^attempt)) ms. */
export function backoffDelay(attempt: number, options?: { base?: number; cap?: number },
                             random?: () => number): number;

/** The SSE cursor (docs/protocol.md §6) of positions in channels. */
export function encodeCursor(channels: string[],
                             positions: Map<string, { epoch: string | null; seq: number }>): string;
