/**
 * The memory server's stream logs: frames numbered per stream within a replay window,
 * and each log's epoch (protocol v2), which changes whenever the log starts over.
 * `memory.ts` has the server that publishes to them and replays them onto links.
 */
import { Epochs } from './session-store.js';
import type { InboundFrame, StreamHead, StreamPosition } from './transport.js';

export class MemoryLogs {
  private readonly logs = new Map<string, InboundFrame[]>();
  private readonly epochs = new Epochs();

  constructor(private readonly replayWindow: number) {}

  /** Append one frame at the stream's next seq. */
  append(stream: string, data: unknown): InboundFrame {
    const log = this.logs.get(stream) ?? [];
    this.logs.set(stream, log);
    const frame = { stream, seq: (log[log.length - 1]?.seq ?? 0) + 1, data };
    log.push(frame);
    if (log.length > this.replayWindow) log.shift();
    return frame;
  }

  /** The epoch of `stream`'s log and its last seq (0 when empty). */
  head(stream: string): StreamHead {
    const log = this.logs.get(stream);
    return { stream, epoch: this.epochs.of(stream), head: log?.[log.length - 1]?.seq ?? 0 };
  }

  /**
   * The frames to replay after `position`, oldest first. With `v2`, a position in another
   * epoch or past the head is of a log that started over: everything is replayed (the
   * client, told by the `stream` frame, reports the reset).
   */
  after({ stream, seq, epoch }: StreamPosition, v2: boolean): InboundFrame[] {
    const head = this.head(stream);
    const from = v2 && ((epoch !== undefined && epoch !== head.epoch) || seq > head.head) ? 0 : seq;
    return (this.logs.get(stream) ?? []).filter((frame) => (frame.seq ?? 0) > from);
  }

  /** `stream`'s log starts over: emptied, a new epoch, its next frame at seq 1. */
  startOver(stream: string): void {
    this.logs.delete(stream);
    this.epochs.renew(stream);
  }

  /** Every log starts over. */
  clear(): void {
    this.logs.clear();
    this.epochs.renewAll();
  }
}
