/**
 * A WebSocket relay between a page and the reference server, for the durable outbox's
 * browser tests (test/browser/durable.test.ts). It passes every frame on, both ways, and
 * records the `send` frames going up and the verdicts (`ack`, `nack`) coming down. Told
 * to, it holds:
 *
 * - a verdict: the server has handled the message (its app has it) but the page never
 *   hears, as when the server's answer is lost with the page;
 * - a link's sends from a given one on: the server never sees them, nor anything after
 *   them on that link (order kept, so a later serial never overtakes an earlier one).
 *
 * What is held on a link that closes is thrown away with it; `release()` lets what is held
 * on live links go on, in order. Listens on 127.0.0.1, port 0.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RawData, WebSocket, WebSocketServer } from 'ws';

/** One `send` frame a page put on a link. */
export interface RelayedSend {
  /** Which link it came on: 1 for the first the relay accepted, and so on. */
  readonly link: number;
  /** The session in the link's URL (protocol v2). */
  readonly session: string | undefined;
  readonly id: string;
  readonly serial: number | undefined;
  readonly data: unknown;
}

/** One verdict the server gave, whether the page heard it or not. */
export interface RelayedVerdict {
  readonly link: number;
  readonly id: string;
  readonly type: 'ack' | 'nack';
}

export interface HoldRules {
  /** Hold the server's verdict on these sends. */
  verdict?: (send: RelayedSend) => boolean;
  /** On a link, hold the first send this matches and every frame after it. */
  sends?: (send: RelayedSend) => boolean;
}

export interface AckRelay {
  /** `ws://127.0.0.1:<port>/ws` */
  readonly url: string;
  /** Every send frame that reached the relay, in order, held or not. */
  readonly sends: RelayedSend[];
  /** Every verdict the server gave, in order, held or not. */
  readonly verdicts: RelayedVerdict[];
  /** Hold from now on what these rules say (replacing the rules before). */
  hold(rules: HoldRules): void;
  /** Hold nothing more, and let what is held on live links go on, in order. */
  release(): void;
  /** What is held on live links now. */
  held(): { verdicts: number; frames: number };
  /** The links open now, by number. */
  live(): number[];
  close(): Promise<void>;
}

interface Link {
  readonly n: number;
  readonly client: WebSocket;
  readonly upstream: WebSocket;
  /** Sends by id, to judge their verdicts. */
  readonly sent: Map<string, RelayedSend>;
  /** Frames for the server, before its socket opened or once stalled. */
  readonly up: string[];
  /** Verdicts held back from the page. */
  readonly down: string[];
  stalled: boolean;
}

/** The frame's object, or undefined for text that is not one. */
function parse(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A close code a peer may send (`ws` refuses the rest: 1004–1006, 1015, …). */
const sendable = (code: number) =>
  (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) ||
  (code >= 3000 && code <= 4999);

/** A relay to the reference server's WebSocket endpoint `target` (`ws://…/ws`). */
export async function startRelay(target: string): Promise<AckRelay> {
  const http = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server: http });
  const sends: RelayedSend[] = [];
  const verdicts: RelayedVerdict[] = [];
  const links = new Set<Link>();
  let rules: HoldRules = {};
  let count = 0;

  const toServer = (link: Link, text: string) => {
    if (link.stalled || link.upstream.readyState !== WebSocket.OPEN) link.up.push(text);
    else link.upstream.send(text);
  };
  const end = (link: Link) => {
    if (!links.delete(link)) return;
    link.up.length = 0;
    link.down.length = 0;
  };

  wss.on('connection', (client, request) => {
    const url = new URL(request.url ?? '/', 'http://relay');
    const session = url.searchParams.get('session') ?? undefined;
    const upstream = new WebSocket(`${target}${url.search}`);
    const link: Link = {
      n: ++count,
      client,
      upstream,
      sent: new Map(),
      up: [],
      down: [],
      stalled: false,
    };
    links.add(link);
    client.on('message', (raw: RawData) => {
      const text = String(raw);
      const frame = parse(text);
      if (frame?.type === 'send' && typeof frame.id === 'string') {
        const send: RelayedSend = {
          link: link.n,
          session,
          id: frame.id,
          serial: typeof frame.serial === 'number' ? frame.serial : undefined,
          data: frame.data,
        };
        sends.push(send);
        link.sent.set(send.id, send);
        if (!link.stalled && rules.sends?.(send) === true) link.stalled = true;
      }
      toServer(link, text);
    });
    upstream.on('open', () => {
      if (link.stalled) return;
      for (const text of link.up.splice(0)) upstream.send(text);
    });
    upstream.on('message', (raw: RawData) => {
      const text = String(raw);
      const frame = parse(text);
      if ((frame?.type === 'ack' || frame?.type === 'nack') && typeof frame.id === 'string') {
        verdicts.push({ link: link.n, id: frame.id, type: frame.type });
        const send = link.sent.get(frame.id);
        if (send !== undefined && rules.verdict?.(send) === true) {
          link.down.push(text);
          return;
        }
      }
      if (client.readyState === WebSocket.OPEN) client.send(text);
    });
    client.on('close', () => {
      end(link);
      if (upstream.readyState === WebSocket.CONNECTING) upstream.terminate();
      else upstream.close();
    });
    upstream.on('close', (code, reason) => {
      end(link);
      if (sendable(code)) client.close(code, reason);
      else client.terminate();
    });
    client.on('error', () => client.terminate());
    upstream.on('error', () => upstream.terminate());
  });

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;

  return {
    url: `ws://127.0.0.1:${port}/ws`,
    sends,
    verdicts,
    hold(next) {
      rules = next;
    },
    release() {
      rules = {};
      for (const link of links) {
        for (const text of link.down.splice(0)) link.client.send(text);
        link.stalled = false;
        if (link.upstream.readyState === WebSocket.OPEN)
          for (const text of link.up.splice(0)) link.upstream.send(text);
      }
    },
    held() {
      let [down, up] = [0, 0];
      for (const link of links) {
        down += link.down.length;
        up += link.up.length;
      }
      return { verdicts: down, frames: up };
    },
    live: () => [...links].map((link) => link.n),
    async close() {
      for (const link of links) {
        link.client.terminate();
        link.upstream.terminate();
      }
      links.clear();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
