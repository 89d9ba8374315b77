/** What an inbound frame does to the stream positions (R18). Pure. */
import type { InboundFrame } from '../adapters/transport.js';
import { ConnectionError, describeValue } from './errors.js';
import type { Positions } from './positions.js';

export interface FrameVerdict {
  /** The positions after the frame: a new version when it moved one, else the same. O(1). */
  readonly positions: Positions;
  /** Hand the frame to the app. */
  readonly deliver: boolean;
  /** Something to report: a gap before this frame, or a frame that breaks the protocol. */
  readonly error?: ConnectionError;
}

export function readFrame(positions: Positions, frame: InboundFrame): FrameVerdict {
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
  // A stream nobody watches has no position to keep: its frames go to the app as they come,
  // unless the app unwatched it lately — those still in flight are dropped, silently.
  if (seen === undefined) return { positions, deliver: !positions.isUnwatched(stream) };
  const at = seq as number;
  if (at <= seen) return { positions, deliver: false };
  const next = positions.advance(stream, at);
  if (at === seen + 1) return { positions: next, deliver: true };
  return {
    positions: next,
    deliver: true,
    error: ConnectionError.gap(stream, seen, at),
  };
}
