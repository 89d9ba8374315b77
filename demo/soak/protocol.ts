/**
 * What the soak's processes tell each other over IPC (`serialization: 'advanced'`, so
 * typed arrays cross as they are), and the compact record a client worker hands back.
 */

export type Transport = 'websocket' | 'sse';
export type Policy = 'resend' | 'reject';

/** One address for clients: a server node's own, or with `--redis` haproxy's. */
export interface NodeAddress {
  wsUrl: string;
  sseUrl: string;
}

/** One client, as the parent assigns it to a worker. */
export interface ClientPlan {
  index: number;
  name: string;
  kind: Transport;
  /** Index into the addresses list (with `--redis`, always 0: haproxy). */
  node: number;
  policy: Policy;
}

/** The verdict of the stream at the end: the last event each node published. */
export interface FeedHead {
  gen: string;
  head: number;
}

// parent → server process
export type ToServer =
  | { type: 'fault'; name: 'dropAll' | 'forgetConnections' | 'failNextSends' | 'restart' }
  | { type: 'stop-feed' };
// server process → parent
export type FromServer =
  | { type: 'listening'; port: number; wsUrl: string; sseUrl: string; gen: string }
  | { type: 'fault-done'; name: string }
  | { type: 'feed-stopped'; head: FeedHead }
  | ProcessStats;

// parent → client worker
export type ToWorker =
  | {
      type: 'start';
      clients: ClientPlan[];
      nodes: NodeAddress[];
      perClient: number;
      intervalMs: number;
      totalClients: number;
      seed: number;
      heartbeatMs: number;
      /** After `finish`, how long to wait for the last sends and feed events. */
      finishWithinMs: number;
    }
  | { type: 'go'; at: number }
  | { type: 'finish'; heads: FeedHead[] };
// client worker → parent
export type FromWorker =
  | { type: 'ready'; open: number }
  | { type: 'sent-all' }
  | {
      type: 'result';
      clients: ClientRecord[];
      /** Send-to-confirm times in ms, by transport. */
      latencies: Record<Transport, Float32Array>;
      lagP99Ms: number;
    }
  | ProcessStats;

export interface ProcessStats {
  type: 'stats';
  rssMb: number;
  cpuSeconds: number;
}

/** Per message n (index n − 1): how its `send()` settled. */
export const Outcome = {
  pending: 0,
  confirmed: 1,
  /** Rejected with `sent: true`: the server may have it. */
  rejectedSent: 2,
  /** Rejected with `sent: false`: it never was on the wire. */
  rejectedUnsent: 3,
} as const;

/** A `session-lost` the client was told of, and the messages it covered (oldest unsettled). */
export interface SessionLost {
  count: number;
  policy: Policy;
  covered: number[];
}

/** One client's whole run, compact: 200 clients × 1,200 messages cross IPC at the end. */
export interface ClientRecord {
  plan: ClientPlan;
  /** Messages 1…sent were handed to `send()`. */
  sent: number;
  /** `Outcome` per message. */
  outcome: Uint8Array;
  /** Rejections by `DeliveryError.reason`. */
  rejectedBy: Record<string, number>;
  /** `error` events by `ConnectionError.kind`. */
  errors: Record<string, number>;
  sessionLost: SessionLost[];
  /** `reset` and `gap` errors, each with how many feed events the app had got before it. */
  resets: number[];
  gaps: number[];
  reconnects: number;
  /** The feed as the app got it: seq, the library's epoch (index into `epochs`), and the
   * server's own generation and counter from the data (index into `gens`). */
  feedSeq: Int32Array;
  feedEpoch: Int32Array;
  feedGen: Int32Array;
  feedK: Int32Array;
  epochs: string[];
  gens: string[];
}
