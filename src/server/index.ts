/**
 * `holdfast/server`: the reference server for wire protocol v1 (docs/protocol.md). Both
 * transports on one port: WebSocket at `/ws`, SSE + POST under `/sse`. Node only; `ws`
 * is an optional peer dependency of the package that this entry needs.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { CloseCode, HttpStatus, SsePath, type SsePostPath } from '../../adapters/protocol.js';
import {
  Hub,
  type HubConnection,
  type HubOptions,
  type ServerMessage,
  type StreamEvent,
} from './hub.js';
import { handlePost, openEventStream } from './sse.js';
import { serveWebSocket } from './websocket.js';

export type { HubConnection as ServerConnection, ServerMessage, StreamEvent };

/** Where this server mounts each wire (its own choice; the protocol names neither). */
const WS_PATH = '/ws';
/** The SSE base `B`; the protocol's endpoints (`SsePath`) hang below it. */
const SSE_BASE = '/sse';
const SSE_POSTS: ReadonlySet<string> = new Set<SsePostPath>([
  SsePath.resume,
  SsePath.send,
  SsePath.suspend,
]);

export interface ServerOptions extends HubOptions {
  /** Heartbeat interval on every link, in ms. @default 15000 */
  heartbeatMs?: number;
  /** Largest request body or WebSocket frame, in bytes (413 / close 1009 above). @default 1048576 */
  maxBodyBytes?: number;
  /**
   * Decide whether a request may connect (check a cookie, a header, a token in the URL).
   * Refused: WebSocket closes with 4001 (fatal for the client), HTTP answers 401.
   * @default everyone is allowed
   */
  authorize?: (request: IncomingMessage) => boolean;
  /**
   * Answers every HTTP request the protocol does not own (anything outside `/sse/` and
   * `/ws`), so an app can serve its pages from the same origin.
   * @default 404
   */
  fallback?: (request: IncomingMessage, response: ServerResponse) => void;
}

export interface Listening {
  /** `http://host:port` */
  url: string;
  /** The WebSocket endpoint, `ws://host:port/ws`. */
  wsUrl: string;
  /** The SSE base URL `B`, `http://host:port/sse`. */
  sseUrl: string;
  close(): Promise<void>;
}

/** Faults to inject, for tests and the demo. */
export interface Faults {
  /** Close every link from the server's side. */
  dropAll(): void;
  /** Forget every connection id: SSE sends get 404 on a stream that still looks alive; WebSocket links are closed. */
  forgetConnections(): void;
  /** Fail the next `count` sends (SSE: that HTTP status; WebSocket: the socket drops). */
  failNextSends(count: number, status?: number): void;
  /** Fail the next `count` resumes (SSE: HTTP 500; WebSocket: the socket closes). */
  failNextResumes(count: number): void;
  /** Leave every resume unanswered (`true`) until told otherwise (`false`). */
  hangResumes(on: boolean): void;
  /** Stop heartbeats, events and answers (`true`) or resume them (`false`). */
  silence(on: boolean): void;
  /** Close every link and the port, then listen again on the same port; logs are kept. */
  restart(): Promise<void>;
}

export interface ReferenceServer {
  listen(port?: number, host?: string): Promise<Listening>;
  publish(stream: string, data: unknown): StreamEvent;
  /** Live connections, by id. */
  readonly connections: ReadonlyMap<string, HubConnection>;
  readonly faults: Faults;
}

export function createServer(options: ServerOptions = {}): ReferenceServer {
  const hub = new Hub(options);
  const side = {
    heartbeatMs: options.heartbeatMs ?? 15_000,
    maxBodyBytes: options.maxBodyBytes ?? 1_048_576,
  };
  const wss = new WebSocketServer({ noServer: true, maxPayload: side.maxBodyBytes });
  let http: Server | undefined;
  let address: { port: number; host: string } | undefined;
  const sockets = new Set<Socket>();

  function start(port: number, host: string): Promise<Server> {
    const server = createHttpServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (options.authorize && !options.authorize(req)) {
        res
          .writeHead(HttpStatus.unauthorized, { 'Content-Type': 'application/json' })
          .end('{"error":"unauthorized"}');
        return;
      }
      const sse = path.startsWith(`${SSE_BASE}/`);
      const endpoint = sse ? path.slice(SSE_BASE.length) : undefined;
      if (req.method === 'GET' && endpoint === SsePath.events) {
        return openEventStream(hub, res, side);
      }
      if (req.method === 'POST' && endpoint !== undefined && SSE_POSTS.has(endpoint)) {
        void handlePost(hub, endpoint as SsePostPath, req, res, side);
        return;
      }
      if (options.fallback && !sse) return options.fallback(req, res);
      res
        .writeHead(HttpStatus.notFound, { 'Content-Type': 'application/json' })
        .end('{"error":"not found"}');
    });
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    server.on('upgrade', (req, socket, head) => {
      if ((req.url ?? '').split('?')[0] !== WS_PATH) return socket.destroy();
      wss.handleUpgrade(req, socket, head, (ws) => {
        if (options.authorize && !options.authorize(req)) {
          ws.close(CloseCode.unauthorized, 'unauthorized');
        } else serveWebSocket(hub, ws, side);
      });
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve(server));
    });
  }

  function stop(): Promise<void> {
    const closing = http;
    http = undefined;
    for (const c of hub.connections.values()) c.drop();
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => (closing ? closing.close(() => resolve()) : resolve()));
  }

  return {
    async listen(port = 0, host = '127.0.0.1') {
      http = await start(port, host);
      const bound = (http.address() as AddressInfo).port;
      address = { port: bound, host };
      const base = `${host}:${bound}`;
      return {
        url: `http://${base}`,
        wsUrl: `ws://${base}${WS_PATH}`,
        sseUrl: `http://${base}${SSE_BASE}`,
        close: stop,
      };
    },
    publish: (stream, data) => hub.publish(stream, data),
    connections: hub.connections,
    faults: {
      dropAll: () => {
        for (const c of [...hub.connections.values()]) c.drop();
      },
      forgetConnections: () => {
        for (const c of [...hub.connections.values()]) {
          hub.remove(c);
          if (c.transport === 'websocket') c.drop();
        }
      },
      failNextSends: (count, status = HttpStatus.internalError) => {
        hub.failing = { count, status };
      },
      failNextResumes: (count) => {
        hub.failingResumes = count;
      },
      hangResumes: (on) => {
        hub.hangingResumes = on;
      },
      silence: (on) => {
        hub.silent = on;
      },
      restart: async () => {
        if (!address) throw new Error('holdfast server: restart() before listen()');
        await stop();
        http = await start(address.port, address.host);
      },
    },
  };
}
