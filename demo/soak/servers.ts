/**
 * The server side of a run, whichever it is: N nodes on their own memory, each client
 * pinned to one (`startServers`), or N nodes on Redis behind haproxy (`cluster.ts`). The
 * soak itself does not tell them apart.
 */
import type { SoakOptions } from './args.js';
import { startCluster } from './cluster.js';
import {
  bundleServer,
  heartbeatMs,
  type ProcessFigures,
  type ServerNode,
  startNode,
} from './nodes.js';
import type { FeedHead, NodeAddress } from './protocol.js';
import { type Arrivals, readArrivals } from './verdict.js';

export interface Servers {
  readonly nodes: readonly ServerNode[];
  /** What the clients connect to: every node (client i to i % N), or haproxy alone. */
  readonly addresses: NodeAddress[];
  /** For the timeline: where the servers are. */
  readonly where: string;
  /** The nodes' processes (redis-server and haproxy are not measured). */
  readonly figures: ProcessFigures[];
  /** Stop the feed; the last event published, one per address. */
  stopFeed(): Promise<FeedHead[]>;
  /** Kill the nodes: nothing is taken after this. */
  stopNodes(): Promise<void>;
  /** What the apps took, once the nodes are stopped. */
  arrivals(): Promise<ServerArrivals>;
  /** Stop whatever is left (Redis, haproxy). */
  stop(): Promise<void>;
}

export interface ServerArrivals extends Arrivals {
  /**
   * With Redis: hand-overs of a message already applied, which the app's transaction
   * made no-ops (the lease's crash window, closed by the app).
   */
  absorbed?: number;
}

export async function startServers(options: SoakOptions, folder: string): Promise<Servers> {
  const script = await bundleServer(folder);
  if (options.redis) return startCluster(options, folder, script);
  const setup = { script, heartbeatMs: heartbeatMs(false) };
  const nodes = await Promise.all(
    Array.from({ length: options.nodes }, (_, i) => startNode(i, folder, setup)),
  );
  const addresses = nodes.map((n) => n.address);
  return {
    nodes,
    addresses,
    where: `at ${addresses.map((a) => a.wsUrl).join(' ')}`,
    figures: nodes.map((n) => n.figures),
    stopFeed: () => Promise.all(nodes.map((n) => n.stopFeed())),
    async stopNodes() {
      await Promise.all(nodes.map((n) => n.kill()));
    },
    arrivals: async () => readArrivals(nodes.map((n) => n.file)),
    async stop() {},
  };
}
