/** The SSE + HTTP POST half of the reference server (wire protocol v2, docs/protocol.md). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ENVELOPE_BYTES,
  Header,
  HttpStatus,
  ResultStatus,
  SseEvent,
  SsePath,
  type SsePostPath,
  WireLimit,
} from '../../adapters/protocol.js';
import type { StreamHead } from '../../adapters/transport.js';
import { isName, isThenable, MAX_NAME_CHARS, serialProblem } from './checks.js';
import type { Hub } from './hub.js';
import { planUnwatch, type ResumeRefusal } from './resume-plan.js';
import type { SessionState } from './store.js';
import type { LoggedEvent } from './stream-logs.js';

/** Node lowercases the names of incoming headers. */
const CONNECTION_ID = Header.connectionId.toLowerCase();

export interface SseSideOptions {
  heartbeatMs: number;
  maxBodyBytes: number;
  /** Time allowed for a request's body to arrive, in ms; 408 past it. */
  requestTimeoutMs: number;
}

/** An event on the stream, built around the event's stored JSON: `data` is never serialised again. */
export function sseEventFrame(event: LoggedEvent): string {
  return `event: ${SseEvent.event}\ndata: {"stream":${JSON.stringify(event.stream)},"seq":${event.seq},"data":${event.json}}\n\n`;
}

const PING_FRAME = `event: ${SseEvent.ping}\ndata: {}\n\n`;

/**
 * A `resumed` event, the resume marker: written on the link's event stream right after the
 * replay of the `POST B/resume` that carried this `resumeId` (checked: 1–64 characters;
 * `JSON.stringify` escapes any line break, so it stays one `data:` line).
 */
export function sseResumedFrame(resumeId: string): string {
  return `event: ${SseEvent.resumed}\ndata: ${JSON.stringify({ resumeId })}\n\n`;
}

/** A `resumeId`: a string of 1–64 characters. */
function isResumeId(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= WireLimit.resumeIdChars;
}

/** A `stream` event (protocol v2): a log's epoch and head, before its replay. */
export function sseStreamFrame({ stream, epoch, head }: StreamHead): string {
  return `event: ${SseEvent.stream}\ndata: ${JSON.stringify({ stream, epoch, head })}\n\n`;
}

/** A JSON answer. `body` holds the server's own values only: never a peer's unchecked. */
export function reply(
  res: ServerResponse,
  status: number,
  body?: object,
  headers: Record<string, string> = {},
): void {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  res
    .writeHead(status, { 'Content-Type': 'application/json', ...headers })
    .end(JSON.stringify(body));
}

/**
 * Read a JSON body within `maxBodyBytes` and `requestTimeoutMs`, or answer 413 / 408 /
 * 400 and resolve undefined.
 */
function readBody(
  req: IncomingMessage,
  res: ServerResponse,
  options: SseSideOptions,
): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (value: unknown) => {
      done = true;
      clearTimeout(timer);
      resolve(value);
    };
    const fail = (status: number, error: string, cut: boolean) => {
      if (done) return;
      finish(undefined);
      if (res.headersSent || res.destroyed) return;
      if (!cut) return reply(res, status, { error });
      // The rest of the body is not wanted: answer, then close the connection.
      res.on('finish', () => req.destroy());
      reply(res, status, { error }, { Connection: 'close' });
    };
    // A body that trickles in (slowloris) holds a socket and a buffer: cut it off.
    const timer = setTimeout(
      () =>
        fail(
          HttpStatus.requestTimeout,
          `request body not received within ${options.requestTimeoutMs} ms`,
          true,
        ),
      options.requestTimeoutMs,
    );
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > options.maxBodyBytes + ENVELOPE_BYTES) {
        fail(
          HttpStatus.payloadTooLarge,
          `body over ${options.maxBodyBytes + ENVELOPE_BYTES} bytes`,
          true,
        );
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => fail(HttpStatus.badRequest, 'request failed', false));
    req.on('close', () => {
      if (!done) finish(undefined);
    });
    req.on('end', () => {
      if (done) return;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return fail(HttpStatus.badRequest, 'malformed JSON', false);
      }
      finish(body);
    });
  });
}

/**
 * `GET B/events`: open the event stream of a new connection. `principal` is what
 * `authorize` returned for this request; `session` what its query named (protocol v2),
 * already checked.
 */
export function openEventStream(
  hub: Hub,
  res: ServerResponse,
  options: SseSideOptions,
  principal?: string,
  session?: string,
): void {
  // The link first, so its id can go in a header: a load balancer sticks the link's
  // POSTs to this process by it (scale-out.md §2). Nothing is written before the head.
  let headed = false;
  const { connection, write, closed, welcome } = hub.connect(
    {
      transport: 'sse',
      eventFrame: sseEventFrame,
      streamFrame: sseStreamFrame,
      pingFrame: PING_FRAME,
      buffered: () => res.writableLength,
      write: (text) => {
        if (headed && !res.writableEnded && !res.destroyed) res.write(text);
      },
      drop: () => res.destroy(),
    },
    options.heartbeatMs,
    principal,
    session,
  );
  res.on('close', closed);
  const open = (session: SessionState | undefined) => {
    if (res.destroyed) return;
    res.writeHead(HttpStatus.ok, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      [Header.connectionId]: connection.id,
    });
    headed = true;
    const greeting = {
      connectionId: connection.id,
      heartbeatMs: options.heartbeatMs,
      ...(session === undefined ? {} : { session }),
    };
    write(`event: ${SseEvent.welcome}\ndata: ${JSON.stringify(greeting)}\n\n`);
  };
  if (!isThenable(welcome)) {
    open(welcome);
    return;
  }
  // The store answers later: nothing is written before the head (a ping neither), and a
  // store that cannot answer is a 503 the client retries after its Retry-After.
  welcome.then(open, (error: unknown) => {
    hub.report(error, { during: 'store', connectionId: connection.id });
    if (res.destroyed) return;
    reply(res, HttpStatus.serviceUnavailable, { error: 'try again later' }, { 'Retry-After': '1' });
  });
}

/** The HTTP answer to a refused resume. */
function statusOf(refusal: ResumeRefusal): number {
  switch (refusal.refused) {
    case 'forbidden':
      return HttpStatus.forbidden;
    case 'failed':
      return HttpStatus.internalError;
    case 'gone':
      return HttpStatus.notFound;
    default:
      return HttpStatus.badRequest;
  }
}

/** `POST B/resume`, `B/send`, `B/suspend`, `B/unwatch`. */
export async function handlePost(
  hub: Hub,
  action: SsePostPath,
  req: IncomingMessage,
  res: ServerResponse,
  options: SseSideOptions,
): Promise<void> {
  const id = req.headers[CONNECTION_ID];
  if (typeof id !== 'string' || id === '')
    return reply(res, HttpStatus.badRequest, {
      error: `${Header.connectionId} header is required`,
    });
  const body = await readBody(req, res, options);
  if (body === undefined) return;
  if (hub.silent) return; // a silent server never answers; the client's timeouts must cope
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return reply(res, HttpStatus.badRequest, { error: 'the body must be a JSON object' });
  const { streams, messages } = body as { streams?: unknown; messages?: unknown };

  if (action === SsePath.suspend) {
    if (!hub.noteSuspend(id))
      return reply(res, HttpStatus.notFound, { error: 'unknown connection' });
    return reply(res, HttpStatus.noContent);
  }
  const connection = hub.connections.get(id);
  if (connection === undefined) {
    return reply(res, HttpStatus.notFound, { error: 'unknown connection' });
  }

  if (action === SsePath.unwatch) {
    const names = planUnwatch(streams);
    if ('problem' in names) return reply(res, HttpStatus.badRequest, { error: names.problem });
    hub.unwatch(connection, names);
    return reply(res, HttpStatus.noContent);
  }

  if (action === SsePath.resume) {
    const plan = hub.planResume(connection, streams);
    if ('refused' in plan) return reply(res, statusOf(plan), { error: plan.error });
    // The resume marker: asked for with a `resumeId`, written on the event stream right
    // after this resume's replay, and promised in the answer (`"marker": true`). Without
    // one (a client before markers) nothing is written and the answer is `{}`, as before.
    const { resumeId } = body as { resumeId?: unknown };
    if (resumeId !== undefined && !isResumeId(resumeId))
      return reply(res, HttpStatus.badRequest, {
        error: `resumeId must be a string of 1–${WireLimit.resumeIdChars} characters`,
      });
    const fault = hub.resumeFault();
    if (fault === 'fail') {
      return reply(res, HttpStatus.internalError, { error: 'injected resume failure' });
    }
    if (fault === 'hang') return;
    const marker = resumeId === undefined ? undefined : sseResumedFrame(resumeId);
    const pending = hub.resume(connection, plan, marker);
    const refusal = isThenable(pending) ? await pending : pending;
    if (refusal) return reply(res, statusOf(refusal), { error: refusal.error });
    return reply(res, HttpStatus.ok, marker === undefined ? {} : { marker: true });
  }
  // action === SsePath.send
  if (
    !Array.isArray(messages) ||
    messages.length === 0 ||
    !messages.every(
      (m) => typeof m === 'object' && m !== null && typeof m.id === 'string' && m.id !== '',
    )
  ) {
    return reply(res, HttpStatus.badRequest, {
      error: 'messages must be a non-empty [{ id, data }]',
    });
  }
  const batch = messages as Array<{ id: string; data: unknown; serial?: unknown }>;
  if (!batch.every((m) => isName(m.id)))
    return reply(res, HttpStatus.badRequest, {
      error: `message ids must be 1–${MAX_NAME_CHARS} characters`,
    });
  for (const m of batch) {
    const problem = serialProblem(m.serial, connection.session);
    if (problem !== undefined) return reply(res, HttpStatus.badRequest, { error: problem });
  }
  const failure = hub.takeFailure();
  if (failure !== undefined) return reply(res, failure, { error: 'injected failure' });
  // One at a time, in order: a message whose verdict waits for the app's promise holds
  // the ones after it, as a link's messages are taken in order.
  const results = [];
  for (const { id, data, serial } of batch) {
    const taken = hub.accept(
      serial === undefined ? { id, data } : { id, data, serial: serial as number },
      connection,
    );
    const verdict = isThenable(taken) ? await taken : taken;
    // Not taken now (another process holds the session, or the store did not answer):
    // the whole POST is to be sent again, and nothing after this message is taken. What
    // came before it in the batch was taken: sent again, it is answered as a duplicate.
    if ('retryAfterMs' in verdict)
      return reply(
        res,
        HttpStatus.serviceUnavailable,
        { error: 'try again later' },
        { 'Retry-After': String(Math.max(1, Math.ceil(verdict.retryAfterMs / 1000))) },
      );
    results.push(
      verdict.ok
        ? { id, status: ResultStatus.ok }
        : { id, status: ResultStatus.rejected, error: verdict.error },
    );
  }
  return reply(res, HttpStatus.ok, { results });
}
