/** The WebSocket half of the reference server (wire protocol v2, docs/protocol.md). */
import type { RawData, WebSocket } from 'ws';
import { describeValue } from '../../adapters/describe.js';
import {
  CloseCode,
  closeReason,
  ENVELOPE_BYTES,
  Frame,
  parseFrame,
} from '../../adapters/protocol.js';
import type { StreamHead } from '../../adapters/transport.js';
import type { Corkable } from '../../adapters/websocket-cork.js';
import { isThenable, MAX_NAME_CHARS, serialProblem } from './checks.js';
import type { Hub } from './hub.js';
import type { Verdict } from './intake.js';
import { planUnwatch, type ResumeRefusal } from './resume-plan.js';
import type { SessionState } from './store.js';
import type { LoggedEvent } from './stream-logs.js';

export interface WebSocketSideOptions {
  heartbeatMs: number;
  /** Largest text frame accepted, in bytes; a larger one closes the socket (1009). */
  maxBodyBytes: number;
}

/** An event frame built around the event's stored JSON: `data` is never serialised again. */
export function webSocketEventFrame(event: LoggedEvent): string {
  return `{"type":"${Frame.event}","stream":${JSON.stringify(event.stream)},"seq":${event.seq},"data":${event.json}}`;
}

const PING_FRAME = JSON.stringify({ type: Frame.ping });

/** A `stream` frame (protocol v2): a log's epoch and head, before its replay. */
export function webSocketStreamFrame({ stream, epoch, head }: StreamHead): string {
  return JSON.stringify({ type: Frame.stream, stream, epoch, head });
}

/** The close code for a refused resume. */
function closeCodeOf(refusal: ResumeRefusal): number {
  switch (refusal.refused) {
    case 'invalid':
      return CloseCode.invalidPayload;
    case 'failed':
      return CloseCode.serverError;
    // The principal may not read a stream: the same refusal as SSE's 403, so the client
    // treats both alike (credentials refused: one more try, then `auth`).
    case 'forbidden':
      return CloseCode.forbidden;
    default:
      return CloseCode.policyViolation;
  }
}

/**
 * Serve one accepted socket until it closes. `principal` is what `authorize` returned
 * for it; `session` what its upgrade URL named (protocol v2), already checked. Frames are handled one at a time, in order: a frame whose handling waits (a
 * resume while an async `canWatch` answers) holds back the ones after it, and the socket
 * is paused meanwhile. A frame whose handling throws closes the socket with 1011; the
 * error is reported (`onError`).
 *
 * With the socket's byte stream (`stream`), the verdicts (acks and nacks) of one tick are
 * written corked: the frames one read brought are answered in one write to the kernel
 * instead of one write each, which is most of what a confirmed message costs the server.
 * The frames, their order and their contents are the same; any other frame (an event, a
 * ping, `resumed`, a close) uncorks first, so it leaves as it did before.
 */
export function serveWebSocket(
  hub: Hub,
  socket: WebSocket,
  options: WebSocketSideOptions,
  principal?: string,
  session?: string,
  stream?: Corkable,
): void {
  // Once the server lets go of a socket it handles nothing more from it, not even frames
  // already buffered: a message after a failed one must never be handled (order).
  let letGo = false;
  // Corked while this tick's verdicts are written; uncorked on the next tick, or before
  // any other frame.
  let corked = false;
  let writingVerdict = false;
  // What the peer had not taken when the cork went on. The bytes held in the cork have not
  // been offered to it yet: counted, a burst of acks to a reader that keeps up would pass
  // `maxBufferedBytes` and drop the link. Nothing leaves the count while corked (no write
  // completes within a tick), so this is what `bufferedAmount` would be, uncorked.
  let heldFrom = 0;
  let greeted = false;
  const uncork = () => {
    if (!corked) return;
    corked = false;
    stream?.uncork();
  };
  const letGoOf = () => {
    letGo = true;
    uncork();
    socket.terminate();
  };
  const closeWith = (code: number, reason: string) => {
    letGo = true;
    uncork();
    socket.close(code, closeReason(reason));
    // A paused socket would never read the peer's close frame: the close would hang.
    socket.resume?.();
  };
  const { connection, write, closed, welcome } = hub.connect(
    {
      transport: 'websocket',
      eventFrame: webSocketEventFrame,
      streamFrame: webSocketStreamFrame,
      pingFrame: PING_FRAME,
      buffered: () => (corked ? heldFrom : socket.bufferedAmount),
      write: (text) => {
        // Nothing before the welcome, which may wait for the store (a ping neither).
        if (!greeted || socket.readyState !== socket.OPEN) return;
        if (!writingVerdict) uncork();
        socket.send(text);
      },
      drop: letGoOf,
    },
    options.heartbeatMs,
    principal,
    session,
  );
  // Our own frames, built from our own values: never from a peer's value unchecked.
  const send = (frame: object) => write(JSON.stringify(frame));
  /** An ack or a nack: corked until the end of the tick (with `stream`). */
  const sendVerdict = (frame: object) => {
    if (stream !== undefined && !corked && socket.readyState === socket.OPEN) {
      heldFrom = socket.bufferedAmount;
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    writingVerdict = true;
    try {
      send(frame);
    } finally {
      writingVerdict = false;
    }
  };
  socket.on('close', closed);
  socket.on('error', () => socket.terminate());

  const fail = (error: unknown) => {
    hub.report(error, { during: 'websocket', connectionId: connection.id });
    if (!letGo) closeWith(CloseCode.serverError, 'internal error');
  };

  const refuse = (refusal: ResumeRefusal) => {
    // `gone`: the socket was dropped (or forgotten) meanwhile; there is no one to tell.
    if (letGo || refusal.refused === 'gone') return;
    closeWith(closeCodeOf(refusal), refusal.error);
  };

  const finishResume = (refusal: ResumeRefusal | undefined) => {
    if (refusal) return refuse(refusal);
    send({ type: Frame.resumed });
  };

  const resume = (streams: unknown): Promise<void> | undefined => {
    const plan = hub.planResume(connection, streams);
    if ('refused' in plan) {
      refuse(plan);
      return;
    }
    const fault = hub.resumeFault();
    // No frame says "resume failed": a server that cannot resume closes the socket.
    if (fault === 'fail') {
      closeWith(CloseCode.serverError, 'resume failed');
      return;
    }
    if (fault === 'hang') return;
    const outcome = hub.resume(connection, plan);
    if (isThenable(outcome)) return outcome.then(finishResume);
    finishResume(outcome);
  };

  const take = (id: unknown, data: unknown, serial: unknown): Promise<void> | undefined => {
    if (typeof id !== 'string' || id === '') {
      closeWith(CloseCode.invalidPayload, 'send needs a string id');
      return;
    }
    // Refused for good, and only this message: the link carries on.
    if (id.length > MAX_NAME_CHARS) {
      sendVerdict({
        type: Frame.nack,
        id,
        error: `message ids must be 1–${MAX_NAME_CHARS} characters`,
      });
      return;
    }
    const problem = serialProblem(serial, connection.session);
    if (problem !== undefined) {
      sendVerdict({ type: Frame.nack, id, error: problem });
      return;
    }
    if (hub.takeFailure() !== undefined) {
      // WebSocket has no status per message: a failing server drops the socket, and
      // nothing after the failed message is handled on it.
      letGoOf();
      return;
    }
    const taken = hub.accept(
      serial === undefined ? { id, data } : { id, data, serial: serial as number },
      connection,
    );
    const answer = (verdict: Verdict) => {
      // Not taken now (another process holds the session, or the store did not answer):
      // the link ends, and its client sends the message again on its next one.
      if ('retryAfterMs' in verdict) return closeWith(CloseCode.tryAgainLater, 'try again later');
      sendVerdict(
        verdict.ok ? { type: Frame.ack, id } : { type: Frame.nack, id, error: verdict.error },
      );
    };
    // Waiting for the app's promise: later frames wait for it (`run`), so order is kept.
    if (isThenable(taken)) return taken.then(answer);
    answer(taken);
  };

  /** One frame. A promise when its handling waits for the app; later frames wait for it. */
  const handle = (raw: RawData, isBinary: boolean): Promise<void> | undefined => {
    if (isBinary || (raw as Buffer).length > options.maxBodyBytes + ENVELOPE_BYTES) {
      closeWith(CloseCode.tooBig, 'frame too large or binary');
      return;
    }
    const read = parseFrame(String(raw));
    if ('problem' in read) {
      closeWith(CloseCode.invalidPayload, read.problem);
      return;
    }
    const frame = read.frame;
    // A connection the server forgot, or one silenced: nothing is handled any more.
    if (hub.connections.get(connection.id) !== connection || hub.silent) return;
    switch (frame.type) {
      case Frame.resume:
        return resume(frame.streams);
      case Frame.send:
        return take(frame.id, frame.data, frame.serial);
      case Frame.suspend:
        hub.noteSuspend(connection.id);
        return;
      case Frame.unwatch: {
        const streams = planUnwatch(frame.streams);
        if ('problem' in streams) closeWith(CloseCode.invalidPayload, streams.problem);
        else hub.unwatch(connection, streams);
        return;
      }
      default:
        closeWith(CloseCode.invalidPayload, `unknown frame type ${describeValue(frame.type)}`);
    }
  };

  const waiting: Array<{ raw: RawData; isBinary: boolean }> = [];
  let busy = false;
  const run = (raw: RawData, isBinary: boolean) => {
    let outcome: Promise<void> | undefined;
    try {
      outcome = handle(raw, isBinary);
    } catch (error) {
      return fail(error);
    }
    if (outcome === undefined) return;
    busy = true;
    socket.pause?.();
    outcome.then(
      () => {
        busy = false;
        if (letGo) return;
        socket.resume?.();
        drain();
      },
      (error: unknown) => {
        busy = false;
        fail(error);
      },
    );
  };
  const drain = () => {
    while (!busy && !letGo) {
      const next = waiting.shift();
      if (next === undefined) return;
      run(next.raw, next.isBinary);
    }
  };
  socket.on('message', (raw, isBinary) => {
    if (letGo) return;
    if (busy) waiting.push({ raw, isBinary });
    else run(raw, isBinary);
  });

  const greet = (session: SessionState | undefined) => {
    if (letGo) return;
    greeted = true;
    send({
      type: Frame.welcome,
      connectionId: connection.id,
      heartbeatMs: options.heartbeatMs,
      ...(session === undefined ? {} : { session }),
    });
  };
  if (!isThenable(welcome)) {
    greet(welcome);
    return;
  }
  // The store answers later: the frames that come meanwhile wait, as behind a resume.
  busy = true;
  socket.pause?.();
  welcome.then(
    (session) => {
      busy = false;
      greet(session);
      if (letGo) return;
      socket.resume?.();
      drain();
    },
    (error: unknown) => {
      busy = false;
      hub.report(error, { during: 'store', connectionId: connection.id });
      if (!letGo) closeWith(CloseCode.tryAgainLater, 'try again later');
    },
  );
}
