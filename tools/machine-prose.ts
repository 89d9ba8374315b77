/**
 * The "does / why" column of the transition tables in docs/machine.md, hand-written, one
 * entry per transition of the connection machine, keyed `<state path>|<event>|<guard>`:
 * `(root)` for the root, `after <delay>` for a delayed event, `always` for an eventless
 * one, nothing after the last `|` when there is no guard. The generator
 * (`tools/machine-doc.ts`) puts the transition's action names in front of it.
 *
 * `npm run diagram` throws on a transition without an entry and on an entry that matches
 * no transition: change this map with the machine.
 */

const AS_OPENING = 'as in connecting.opening';
const AS_RESUMING = 'as in connecting.resuming';
const AS_FLUSHING = 'as in flushing';
/** A failure inside reconnecting re-enters it, so that its entry runs again. */
const NEXT_ATTEMPT =
  'a failed attempt: re-entry drops the link, requeues and plans the next backoff (R17)';

export const TRANSITION_PROSE: Readonly<Record<string, string>> = {
  // App events, the same in every state that does not handle them itself.
  '(root)|send|':
    'queues the message (or the burst of messages) at the back, or drops per `overflow` (R10)',
  '(root)|abort|': 'withdraws the message if it was never on the wire (R19)',
  '(root)|watch|': 'tracks the stream; the next handshake resumes it (R20)',
  '(root)|unwatch|': 'stops tracking the stream on every later link (R20)',
  '(root)|suspend|': 'no greeted link to tell: no notice (R13)',
  '(root)|resume|': 'resets both attempt counters; a fresh link at once, no backoff (R13)',
  '(root)|close|': "closed's entry rejects everything and removes it from the store (R14, D7)",
  '(root)|store.opened|':
    'restores the session, the serial reservation, the positions and the unsettled messages, ahead of what was sent meanwhile; fires `restored` (D3)',
  '(root)|store.busy|':
    'another connection owns the store: reports `store-busy` once and waits (D5)',
  '(root)|store.open-failed|fallsBackToMemory':
    'the store cannot be opened: says so once (`store`) and goes on in memory (D6)',
  '(root)|store.open-failed|': 'the store cannot be opened: reports `store` and closes (D6)',
  '(root)|store.saved|': 'notes which writes are durable (D1)',
  '(root)|store.write-failed|':
    'rejects the messages the failed write was to save, with reason `store`: never sent unsaved (D6)',

  'connecting|resume|': 'ignored: a link is already being opened (R13)',

  'connecting.restoring|always|storeSettled':
    'the store opened (or there is none, or it fell back to memory): open a link (D3)',

  'connecting.opening|link.closed|isFatal':
    'the server refused this client for good: reports `fatal` and closes (R17)',
  'connecting.opening|link.closed|isAuthRefusedAgain':
    'the credentials were refused by this link and the one before: reports `auth` and closes (R17)',
  'connecting.opening|link.closed|':
    "reports the lost link (`link`, or `protocol`); a first credentials refusal makes reconnecting's next attempt come at once, a `Retry-After` makes it wait at least that long (R17)",
  'connecting.opening|link.open|hasWatchedStreams': 'resume before flush (R2)',
  'connecting.opening|link.open|': 'nothing to resume: flush at once (R2)',
  'connecting.opening|after connectTimeout|': 'reports a `timeout`: the link took too long (R16)',

  'connecting.resuming|link.closed|isFatal': AS_OPENING,
  'connecting.resuming|link.closed|isAuthRefusedAgain': AS_OPENING,
  'connecting.resuming|link.closed|': AS_OPENING,
  'connecting.resuming|link.frame|':
    'moves positions forward, drops duplicates, reports gaps (R18)',
  'connecting.resuming|link.watch-failed|':
    'the server refused a stream watched on this link: a new link resumes them all (R20)',
  'connecting.resuming|suspend|': 'sends the suspend notice once over the link (R13)',
  'connecting.resuming|watch|':
    'a new stream is resumed on this link at once, then tracked; a known one changes nothing (R20)',
  'connecting.resuming|unwatch|':
    'tells the server to stop sending the stream (protocol v2), then stops tracking it; its frames no longer reach the app (R18, R24)',
  'connecting.resuming|link.stream|':
    'a v2 server names the epoch and head of a stream before replaying it: another epoch, or a head behind the position, is a `reset` (R23)',
  'connecting.resuming|link.resumed|': 'the server re-attached every watched stream: flush (R2)',
  'connecting.resuming|link.resume-failed|':
    'reports the refusal; nothing is flushed into this link (R3)',
  'connecting.resuming|after resumeTimeout|':
    'reports a `timeout`: a hung resume fails like a refused one (R3)',

  'reconnecting.waiting|always|attemptsExhausted':
    '`maxAttempts` failed link attempts in a row: reports `retries-exhausted` and closes (R17)',
  'reconnecting.waiting|after backoff|': 'the wait is over: the next attempt (R17)',

  'reconnecting.opening|link.closed|isFatal': AS_OPENING,
  'reconnecting.opening|link.closed|isAuthRefusedAgain': AS_OPENING,
  'reconnecting.opening|link.closed|': `${AS_OPENING}; ${NEXT_ATTEMPT}`,
  'reconnecting.opening|link.open|hasWatchedStreams': AS_OPENING,
  'reconnecting.opening|link.open|': AS_OPENING,
  'reconnecting.opening|after connectTimeout|': `${AS_OPENING}; ${NEXT_ATTEMPT}`,

  'reconnecting.resuming|link.closed|isFatal': AS_OPENING,
  'reconnecting.resuming|link.closed|isAuthRefusedAgain': AS_OPENING,
  'reconnecting.resuming|link.closed|': `${AS_OPENING}; ${NEXT_ATTEMPT}`,
  'reconnecting.resuming|link.frame|': AS_RESUMING,
  'reconnecting.resuming|link.watch-failed|': `${AS_RESUMING}; ${NEXT_ATTEMPT}`,
  'reconnecting.resuming|suspend|': AS_RESUMING,
  'reconnecting.resuming|unwatch|': AS_RESUMING,
  'reconnecting.resuming|link.stream|': AS_RESUMING,
  'reconnecting.resuming|watch|': AS_RESUMING,
  'reconnecting.resuming|link.resumed|': AS_RESUMING,
  'reconnecting.resuming|link.resume-failed|': `${AS_RESUMING}; ${NEXT_ATTEMPT}`,
  'reconnecting.resuming|after resumeTimeout|': `${AS_RESUMING}; ${NEXT_ATTEMPT}`,

  'flushing|always|outboxEmpty': 'everything flushed was confirmed (R4)',
  'flushing|link.closed|isFatal': AS_OPENING,
  'flushing|link.closed|isAuthRefusedAgain': AS_OPENING,
  'flushing|link.closed|':
    "reports the lost link; reconnecting's entry puts what was in flight back at the head of the queue",
  'flushing|link.watch-failed|': AS_RESUMING,
  'flushing|suspend|': AS_RESUMING,
  'flushing|unwatch|': AS_RESUMING,
  'flushing|watch|': `${AS_RESUMING}, without holding back sends (R20)`,
  'flushing|ack.timeout|':
    'the oldest message in flight went unconfirmed for `ackTimeoutMs` on a link that is alive: reports a `timeout`; the link is replaced and the message resent with its id (R8, R16)',
  'flushing|send|':
    'joins the back of the queue and goes out as the window allows, once a store saved it (R1, R4, D1)',
  'flushing|store.saved|':
    'what waited for that write goes on the wire; saves the next unsaved ones the window has room for (D1)',
  'flushing|store.write-failed|':
    'rejects what the failed write was to save (D6); the rest goes on as the window allows',
  'flushing|link.verdicts|sendFailed':
    'settles the verdicts before the first `stale` (R6) or `retry` (R12) and reports that one (`stale` or `link`); it ends the link, and what follows it stays in flight to be requeued',
  'flushing|link.verdicts|':
    'in order: `ok` resolves the send, `rejected` rejects it (R11); then fills the window again',

  'flushing.heartbeat|after heartbeatTimeout|heartbeatEnabled':
    'reports a `timeout`: a silent link is dead (R15); `heartbeatTimeoutMs: 0` turns it off',
  'flushing.heartbeat|link.frame|': `${AS_RESUMING}; a sign of life: re-entering heartbeat restarts its timer (R15)`,
  'flushing.heartbeat|link.alive|': 'a ping: re-entering heartbeat restarts its timer (R15)',
  'flushing.heartbeat|link.stream|':
    'a stream frame (a late watch resumed, spec §5): recorded as in resuming, and a sign of life (R15)',

  'open|link.closed|isFatal': AS_OPENING,
  'open|link.closed|': AS_FLUSHING,
  'open|link.watch-failed|': AS_RESUMING,
  'open|suspend|': AS_RESUMING,
  'open|unwatch|': AS_RESUMING,
  'open|watch|': AS_FLUSHING,
  'open|send|': AS_FLUSHING,
  'open|store.saved|': AS_FLUSHING,
  'open|store.write-failed|': AS_FLUSHING,
  'open|ack.timeout|': AS_FLUSHING,
  'open|link.verdicts|sendFailed': AS_FLUSHING,
  'open|link.verdicts|': AS_FLUSHING,

  'open.heartbeat|after heartbeatTimeout|heartbeatEnabled': 'as in flushing.heartbeat',
  'open.heartbeat|link.frame|': 'as in flushing.heartbeat',
  'open.heartbeat|link.alive|': 'as in flushing.heartbeat',
  'open.heartbeat|link.stream|': 'as in flushing.heartbeat',

  'suspended|suspend|': 'ignored: a second suspend sends no second notice (R13)',
};
