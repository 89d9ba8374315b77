/** What an inbound frame does to the stream positions (R18). Pure. */
import type { InboundFrame } from '../adapters/transport.js';
import { ConnectionError, describeValue } from './errors.js';

export interface FrameVerdict {
  readonly positions: ReadonlyMap<string, number>;
  /** Hand the frame to the app. */
  readonly deliver: boolean;
  /** Something to report: a gap before this frame, or a frame that breaks the protocol. */
  readonly error?: ConnectionError;
}

export function readFrame(
  positions: ReadonlyMap<string, number>,
  frame: InboundFrame,
): FrameVerdict {
  if (typeof frame !== 'object' || frame === null) {
    return {
      positions,
      deliver: false,
      error: ConnectionError.badFrame(`a frame that is not an object: ${describeValue(frame)}`),
    };
  }
  const { stream, seq } = frame;
  if (stream === undefined && seq === undefined) return { positions, deliver: true };
  if (typeof stream !== 'string' || !Number.isSafeInteger(seq) || (seq as number) < 0) {
    return {
      positions,
      deliver: false,
      error: ConnectionError.badFrame(
        `a frame with stream ${describeValue(stream)} and seq ${describeValue(seq)}: it needs both stream (a string) and seq (an integer ≥ 0) or neither`,
      ),
    };
  }
  const seen = positions.get(stream);
  // A stream nobody watches has no position to keep; its frames go to the app as they come.
  if (seen === undefined) return { positions, deliver: true };
  const at = seq as number;
  if (at <= seen) return { positions, deliver: false };
  const next = new Map(positions).set(stream, at);
  if (at === seen + 1) return { positions: next, deliver: true };
  return {
    positions: next,
    deliver: true,
    error: ConnectionError.gap(stream, seen, at),
  };
}
