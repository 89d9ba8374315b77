/** The WebSocket half of the reference server (wire protocol v1, docs/protocol.md). */
import type { WebSocket } from 'ws';
import { describeValue } from '../../adapters/describe.js';
import { CloseCode, closeReason, Frame, parseFrame } from '../../adapters/protocol.js';
import { type Hub, readPositions } from './hub.js';

export interface WebSocketSideOptions {
  heartbeatMs: number;
  /** Largest text frame accepted, in bytes; a larger one closes the socket (1009). */
  maxBodyBytes: number;
}

function send(socket: WebSocket, frame: object): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(frame));
}

/** Serve one accepted socket until it closes. */
export function serveWebSocket(hub: Hub, socket: WebSocket, options: WebSocketSideOptions): void {
  // Once the server lets go of a socket it handles nothing more from it, not even frames
  // already buffered: a message after a failed one must never be handled (order).
  let letGo = false;
  const letGoOf = () => {
    letGo = true;
    socket.terminate();
  };
  const { connection, closed } = hub.connect(
    {
      transport: 'websocket',
      deliver: (event) => send(socket, { type: Frame.event, ...event }),
      ping: () => send(socket, { type: Frame.ping }),
      drop: letGoOf,
    },
    options.heartbeatMs,
  );
  socket.on('close', closed);
  socket.on('error', () => socket.terminate());

  socket.on('message', (raw, isBinary) => {
    if (letGo) return;
    if (isBinary || (raw as Buffer).length > options.maxBodyBytes) {
      socket.close(CloseCode.tooBig, 'frame too large or binary');
      return;
    }
    const read = parseFrame(String(raw));
    if ('problem' in read) {
      socket.close(CloseCode.invalidPayload, read.problem);
      return;
    }
    const frame = read.frame as { type?: unknown; id?: unknown; data?: unknown; streams?: unknown };
    // A connection the server forgot, or one silenced: nothing is handled any more.
    if (hub.connections.get(connection.id) !== connection || hub.silent) return;
    switch (frame.type) {
      case Frame.resume: {
        const positions = readPositions(frame.streams);
        if (!positions) {
          return socket.close(CloseCode.invalidPayload, 'resume needs streams: [{ stream, seq }]');
        }
        const fault = hub.resumeFault();
        // No frame says "resume failed": a server that cannot resume closes the socket.
        if (fault === 'fail') return socket.close(CloseCode.serverError, 'resume failed');
        if (fault === 'hang') return;
        hub.resume(connection, positions);
        return send(socket, { type: Frame.resumed });
      }
      case Frame.send: {
        if (typeof frame.id !== 'string' || frame.id === '') {
          return socket.close(CloseCode.invalidPayload, 'send needs a string id');
        }
        if (hub.takeFailure() !== undefined) {
          // WebSocket has no status per message: a failing server drops the socket, and
          // nothing after the failed message is handled on it.
          return letGoOf();
        }
        const verdict = hub.accept({ id: frame.id, data: frame.data }, connection);
        return send(
          socket,
          verdict.ok
            ? { type: Frame.ack, id: frame.id }
            : { type: Frame.nack, id: frame.id, error: verdict.error },
        );
      }
      case Frame.suspend:
        connection.suspends++;
        return;
      default:
        socket.close(
          CloseCode.invalidPayload,
          closeReason(`unknown frame type ${describeValue(frame.type)}`),
        );
    }
  });

  send(socket, {
    type: Frame.welcome,
    connectionId: connection.id,
    heartbeatMs: options.heartbeatMs,
  });
}
