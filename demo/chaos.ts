/**
 * The demo's chaos schedule: a seeded pick of server faults, logged on the timeline. A
 * fault that a WebSocket client and an SSE client live through differently says how
 * each one does, so a WebSocket link that just drops is never a mystery.
 */
import type { ReferenceServer } from '../src/server/index.js';
import type { ClientRun } from './client.js';
import type { Timeline } from './timeline.js';

type TransportKind = ClientRun['transport'];

interface Fault {
  name: string;
  /** What the fault does to a client of each transport, when that is not the same. */
  effect?: Record<TransportKind, string>;
  inject(): void | Promise<void>;
}

const TAGS: Record<TransportKind, string> = { websocket: 'ws: ', sse: 'sse:' };

export interface ChaosOptions {
  server: ReferenceServer;
  clients: readonly ClientRun[];
  random: () => number;
  timeline: Timeline;
  everyMs: number;
  /**
   * --durable: every second fault kills a client that is still sending (no `close()`) and
   * starts it again on its store; the clients take turns.
   */
  kills?: boolean;
}

/** Injects one random fault every `everyMs` until `stop()`, which also undoes lasting ones. */
export function startChaos({
  server,
  clients,
  random,
  timeline,
  everyMs,
  kills = false,
}: ChaosOptions) {
  const later = new Set<ReturnType<typeof setTimeout>>();
  const after = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      later.delete(timer);
      fn();
    }, ms);
    later.add(timer);
  };
  const faults: Fault[] = [
    { name: 'drop every link', inject: () => server.faults.dropAll() },
    {
      name: 'forget every connection id',
      effect: {
        sse: 'the event stream stays up, but the next POST is answered 404 (unknown connection): the client opens a new link and resends',
        websocket:
          'WebSocket has no status per message to answer 404 with, so the server closes the socket: the client sees its link lost (code 1006) and reconnects',
      },
      inject: () => server.faults.forgetConnections(),
    },
    {
      name: 'fail the next 3 sends with 500',
      effect: {
        sse: 'the POST of a failed send is answered HTTP 500: the client reconnects and resends',
        websocket:
          'WebSocket has no status per message, so instead of a 500 the server drops the socket: the client sees its link lost (code 1006), reconnects and resends',
      },
      inject: () => server.faults.failNextSends(3, 500),
    },
    {
      name: 'go silent for 600 ms',
      inject: () => {
        server.faults.silence(true);
        after(600, () => server.faults.silence(false));
      },
    },
    { name: 'restart the server (logs kept)', inject: () => server.faults.restart() },
    {
      name: 'suspend a client for 150 ms',
      inject: () => {
        const client = clients[Math.floor(random() * clients.length)];
        client?.conn.suspend();
        after(150, () => client?.conn.resume());
      },
    },
  ];
  // Only the transports in this run are explained, in the order the clients were started.
  const kinds = [...new Set(clients.map((c) => c.transport))];

  let ticks = 0;
  let nextVictim = 0;
  // The next client in turn that can be killed, preferring one with sends unconfirmed.
  const kill = () => {
    const turn = clients.map((_, i) => clients[(nextVictim + i) % clients.length] as ClientRun);
    const candidates = turn.filter((c) => c.killable && c.kill !== undefined);
    const client = candidates.find((c) => c.unsettled > 0) ?? candidates[0];
    if (client?.kill === undefined) return false;
    nextVictim = (clients.indexOf(client) + 1) % clients.length;
    timeline.log(`chaos  kill ${client.name} (no close()) and start it again on its store`);
    void client.kill();
    return true;
  };

  const timer = setInterval(() => {
    if (kills && ++ticks % 2 === 0 && kill()) return;
    const fault = faults[Math.floor(random() * faults.length)] as Fault;
    timeline.log(`chaos  ${fault.name}`);
    for (const kind of kinds) {
      if (fault.effect) timeline.explain(`${TAGS[kind]} ${fault.effect[kind]}`);
    }
    void fault.inject();
  }, everyMs);

  return {
    stop() {
      clearInterval(timer);
      for (const pending of later) clearTimeout(pending);
      server.faults.silence(false);
    },
  };
}
