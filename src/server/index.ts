/**
 * `holdfast/server`: the reference server for wire protocol v2 (docs/protocol.md), which
 * serves v1 clients as before. Both transports on one port: WebSocket at `/ws`, SSE +
 * POST under `/sse`. Node only; `ws` is an optional peer dependency of the package that
 * this entry needs.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  CloseCode,
  closeReason,
  ENVELOPE_BYTES,
  HttpStatus,
  SsePath,
  type SsePostPath,
} from '../../adapters/protocol.js';
import type { Corkable } from '../../adapters/websocket-cork.js';
import { isThenable, positiveOption, sessionOf } from './checks.js';
import {
  Hub,
  type HubConnection,
  type ServerErrorContext,
  type ServerErrorSource,
  type ServerMessage,
} from './hub.js';
import { MemoryServerStore, memoryServerStore } from './memory-store.js';
import type {
  Faults,
  Listening,
  Published,
  ReferenceServer,
  ServerOptions,
} from './server-types.js';
import { handlePost, openEventStream, reply } from './sse.js';
import type {
  Maybe,
  SerialClaim,
  ServerStore,
  SessionState,
  StoredEvent,
  Unwatch,
} from './store.js';
import type { StreamEvent } from './stream-logs.js';
import { serveWebSocket } from './websocket.js';

export type { MemoryServerStoreOptions } from './memory-store.js';
export type {
  Faults,
  HubConnection as ServerConnection,
  Listening,
  Maybe,
  Published,
  ReferenceServer,
  SerialClaim,
  ServerErrorContext,
  ServerErrorSource,
  ServerMessage,
  ServerOptions,
  ServerStore,
  SessionState,
  StoredEvent,
  StreamEvent,
  Unwatch,
};
export { MemoryServerStore, memoryServerStore };

/** Where this server mounts each wire (its own choice; the protocol names neither). */
const WS_PATH = '/ws';
/** The SSE base `B`; the protocol's endpoints (`SsePath`) hang below it. */
const SSE_BASE = '/sse';
const SSE_POSTS: ReadonlySet<string> = new Set<SsePostPath>([
  SsePath.resume,
  SsePath.send,
  SsePath.suspend,
  SsePath.unwatch,
]);
/** The `Retry-After` of a 503 at the connection limit, in seconds. */
const RETRY_AFTER_SECONDS = 5;

/** What `authorize` made of a request: refused, or allowed with its principal. */
type Admission = { ok: false } | { ok: true; principal: string | undefined };

/**
 * The reference server. On the memory store (the default) `publish` answers at once; on a
 * store that answers later (`redisStore`) it returns a promise.
 */
export function createServer<S extends ServerStore = MemoryServerStore>(
  options: ServerOptions<S> = {},
): ReferenceServer<Published<S>> {
  const hub = new Hub(options);
  const answersAtOnce = options.store === undefined || options.store instanceof MemoryServerStore;
  const side = {
    heartbeatMs: options.heartbeatMs ?? 15_000,
    maxBodyBytes: options.maxBodyBytes ?? 1_048_576,
    // A timer's longest delay (about 24.8 days): setTimeout fires at once past it.
    requestTimeoutMs: Math.ceil(
      positiveOption('requestTimeoutMs', options.requestTimeoutMs, 30_000, 2_147_483_647),
    ),
  };
  const maxConnections = positiveOption('maxConnections', options.maxConnections, Infinity);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: side.maxBodyBytes + ENVELOPE_BYTES,
  });
  let http: Server | undefined;
  let address: { port: number; host: string } | undefined;
  const sockets = new Set<Socket>();

  const full = () => hub.connections.size >= maxConnections;

  /** `authorize`'s verdict; synchronous when it is. A throw or a rejection refuses. */
  function admit(request: IncomingMessage): Admission | Promise<Admission> {
    const authorize = options.authorize;
    if (!authorize) return { ok: true, principal: undefined };
    const refused = (error: unknown): Admission => {
      hub.report(error, { during: 'authorize' });
      return { ok: false };
    };
    const judge = (verdict: unknown): Admission => {
      if (verdict === true) return { ok: true, principal: undefined };
      if (typeof verdict === 'string' && verdict !== '') return { ok: true, principal: verdict };
      return { ok: false };
    };
    let verdict: unknown;
    try {
      verdict = authorize(request);
    } catch (error) {
      return refused(error);
    }
    return isThenable(verdict) ? Promise.resolve(verdict).then(judge, refused) : judge(verdict);
  }

  /** A request or socket whose handling threw: reported, answered 500 (or cut), served on. */
  function failed(res: ServerResponse, error: unknown, during: ServerErrorContext['during']) {
    hub.report(error, { during });
    if (res.headersSent) res.destroy();
    else reply(res, HttpStatus.internalError, { error: 'internal error' });
  }

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const admitted = admit(req);
    const admission = isThenable(admitted) ? await admitted : admitted;
    if (!admission.ok) return reply(res, HttpStatus.unauthorized, { error: 'unauthorized' });
    const sse = path.startsWith(`${SSE_BASE}/`);
    const endpoint = sse ? path.slice(SSE_BASE.length) : undefined;
    if (req.method === 'GET' && endpoint === SsePath.events) {
      const opening = sessionOf(req.url);
      if ('problem' in opening)
        return reply(res, HttpStatus.badRequest, { error: opening.problem });
      if (full())
        return reply(
          res,
          HttpStatus.serviceUnavailable,
          { error: 'too many connections, try again later' },
          { 'Retry-After': String(RETRY_AFTER_SECONDS) },
        );
      return openEventStream(hub, res, side, admission.principal, opening.session);
    }
    if (req.method === 'POST' && endpoint !== undefined && SSE_POSTS.has(endpoint)) {
      return handlePost(hub, endpoint as SsePostPath, req, res, side);
    }
    if (options.fallback && !sse) {
      try {
        await options.fallback(req, res);
      } catch (error) {
        failed(res, error, 'fallback');
      }
      return;
    }
    reply(res, HttpStatus.notFound, { error: 'not found' });
  }

  /**
   * An upgraded socket: refused (4001, 1008 for a session id not of the protocol's shape,
   * 1013) or served, once `authorize` has answered.
   */
  function openSocket(
    ws: WebSocket,
    admission: Admission,
    url: string | undefined,
    stream: Corkable,
  ): void {
    if (ws.readyState !== ws.OPEN) return;
    const opening = sessionOf(url);
    if (!admission.ok) ws.close(CloseCode.unauthorized, 'unauthorized');
    else if ('problem' in opening)
      ws.close(CloseCode.policyViolation, closeReason(opening.problem));
    else if (full()) ws.close(CloseCode.tryAgainLater, 'try again later');
    else serveWebSocket(hub, ws, side, admission.principal, opening.session, stream);
  }

  function start(port: number, host: string): Promise<Server> {
    const server = createHttpServer(
      {
        requestTimeout: side.requestTimeoutMs,
        headersTimeout: Math.min(side.requestTimeoutMs, 60_000),
        connectionsCheckingInterval: Math.min(side.requestTimeoutMs, 30_000),
      },
      (req, res) => {
        handleRequest(req, res).catch((error: unknown) => failed(res, error, 'http'));
      },
    );
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    server.on('upgrade', (req, socket, head) => {
      if ((req.url ?? '').split('?')[0] !== WS_PATH) return socket.destroy();
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('error', () => ws.terminate());
        const fail = (error: unknown) => {
          hub.report(error, { during: 'websocket' });
          ws.terminate();
        };
        try {
          const admitted = admit(req);
          if (!isThenable(admitted)) return openSocket(ws, admitted, req.url, socket);
          // Frames wait in the socket until the verdict: none is lost, none handled early.
          ws.pause?.();
          admitted
            .then((admission) => {
              openSocket(ws, admission, req.url, socket);
              ws.resume?.();
            })
            .catch(fail);
        } catch (error) {
          fail(error);
        }
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
    publish: (answersAtOnce
      ? (stream: string, data: unknown) => hub.publish(stream, data)
      : (stream: string, data: unknown) => {
          try {
            return Promise.resolve(hub.publish(stream, data));
          } catch (error) {
            return Promise.reject(error);
          }
        }) as (stream: string, data: unknown) => Published<S>,
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
      restart: async ({ keepState = true } = {}) => {
        if (!address) throw new Error('holdfast server: restart() before listen()');
        // Checked before anything stops: a store that cannot lose its state leaves the
        // server as it was, not down.
        if (!keepState) hub.requireMemory('restart');
        await stop();
        if (!keepState) hub.forgetState();
        http = await start(address.port, address.host);
      },
      forgetSessions: () => hub.forgetSessions(),
      startOver: (stream) => hub.startOver(stream),
    },
  };
}
