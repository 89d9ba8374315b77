/** `LinkEvents` that record every call, for adapter tests: one recorder for every wire. */
import type {
  InboundFrame,
  LinkClose,
  LinkEvents,
  LinkWelcome,
  StreamHead,
} from '../../adapters/transport.js';

/** How a frame or a stream head is written into `seen` (by default, its kind alone). */
export interface SeenAs {
  message?(frame: InboundFrame): string;
  stream?(head: StreamHead): string;
}

export function recordingEvents(overrides: Partial<LinkEvents> = {}, as: SeenAs = {}) {
  const seen: string[] = [];
  const frames: InboundFrame[] = [];
  const heads: StreamHead[] = [];
  const closes: LinkClose[] = [];
  /** The arguments of each `open` call: what the welcome said. */
  const welcomes: Array<[LinkWelcome?]> = [];
  const events: LinkEvents = {
    open: (...args: [LinkWelcome?]) => {
      welcomes.push(args);
      seen.push('open');
    },
    message: (frame) => {
      frames.push(frame);
      seen.push(as.message ? as.message(frame) : 'message');
    },
    alive: () => seen.push('alive'),
    stream: (head) => {
      heads.push(head);
      seen.push(as.stream ? as.stream(head) : 'stream');
    },
    close: (info) => closes.push(info),
    ...overrides,
  };
  return { events, seen, frames, heads, closes, welcomes };
}

/**
 * `LinkEvents` for tests over real sockets: what the link reported, and promises for its
 * first welcome, first frame and close, to await instead of polling.
 */
export function awaitableEvents(overrides: Partial<LinkEvents> = {}) {
  const frames: InboundFrame[] = [];
  const heads: StreamHead[] = [];
  const welcomes: Array<[LinkWelcome?]> = [];
  let onClose: (info: LinkClose) => void = () => {};
  let onFrame: () => void = () => {};
  let onOpen: () => void = () => {};
  const closed = new Promise<LinkClose>((resolve) => {
    onClose = resolve;
  });
  const framed = new Promise<void>((resolve) => {
    onFrame = resolve;
  });
  const opened = new Promise<void>((resolve) => {
    onOpen = resolve;
  });
  const events: LinkEvents = {
    open: (...args: [LinkWelcome?]) => {
      welcomes.push(args);
      onOpen();
    },
    message: (frame) => {
      frames.push(frame);
      onFrame();
    },
    alive: () => {},
    stream: (head) => heads.push(head),
    close: (info) => onClose(info),
    ...overrides,
  };
  return { events, frames, heads, welcomes, closed, framed, opened };
}
