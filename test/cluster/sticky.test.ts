/**
 * Three reference-server processes behind Debian's haproxy with `deploy/haproxy.cfg`
 * (scale-out.md §2, §3): links are spread round robin, and an SSE link's POSTs reach the
 * process that holds it because haproxy sticks them on `X-Connection-ID`, which that
 * process put on the event stream's response.
 */
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type Connection, createConnection } from '../../src/index.js';
import { sseTransport } from '../../src/sse.js';
import { webSocketTransport } from '../../src/websocket.js';
import { until } from '../integration/wire.js';
import { type Cluster, startCluster } from '../support/cluster.js';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster(3);
}, 60_000);
afterAll(() => cluster?.stop());

/** `links` connections over `make`, each sending `each` messages; every send confirmed. */
async function sendOver(
  links: number,
  each: number,
  make: () => Parameters<typeof createConnection>[0]['transport'],
  tag: string,
) {
  const conns: Connection[] = [];
  try {
    const sends: Promise<unknown>[] = [];
    for (let c = 0; c < links; c++) {
      const conn = createConnection({ transport: make(), backoff: () => 50 });
      conns.push(conn);
      for (let n = 0; n < each; n++) sends.push(conn.send({ c, n }, { id: `${tag}-${c}-${n}` }));
    }
    return await Promise.all(sends);
  } finally {
    for (const conn of conns) conn.close();
  }
}

/** `links` links of `tag`, 5 messages each: every message on one process per link; the processes used. */
async function spread(tag: string, links: number): Promise<number> {
  const byLink = await nodesByLink(tag, links * 5);
  expect(byLink.size).toBe(links);
  for (const nodes of byLink.values()) expect(nodes.size).toBe(1);
  return new Set([...byLink.values()].flatMap((nodes) => [...nodes])).size;
}

/**
 * Which node handed each of this test's `count` messages, by link. A node reports over
 * IPC, which may come after the ack reached the client: wait for every report.
 */
async function nodesByLink(tag: string, count: number): Promise<Map<string, Set<string>>> {
  const ours = () => cluster.handed.filter((h) => h.id.startsWith(`${tag}-`));
  await until(() => ours().length >= count, `${count} reports of ${tag} messages`);
  const byLink = new Map<string, Set<string>>();
  for (const { node, id } of ours()) {
    const link = id.split('-')[1] as string;
    const nodes = byLink.get(link) ?? new Set<string>();
    nodes.add(node);
    byLink.set(link, nodes);
  }
  return byLink;
}

describe('haproxy in front of three processes', () => {
  it('an SSE link’s POSTs all reach the process that holds its event stream: sticky on X-Connection-ID', async () => {
    const raw = await fetch(`${cluster.url}/sse/events`);
    const id = raw.headers.get('x-connection-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    // Ten POSTs naming the link: with round robin alone two in three would find no link.
    const statuses: number[] = [];
    for (let n = 0; n < 10; n++) {
      const answer = await fetch(`${cluster.url}/sse/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-connection-id': id as string },
        body: JSON.stringify({ messages: [{ id: `raw-${n}`, data: n }] }),
      });
      statuses.push(answer.status);
      await answer.arrayBuffer();
    }
    expect(statuses).toEqual(Array(10).fill(200));
    const byLink = await nodesByLink('raw', 10);
    const nodes = new Set([...byLink.values()].flatMap((n) => [...n]));
    expect(nodes.size).toBe(1);
    await raw.body?.cancel();
  });

  it('SSE links through haproxy are spread over the processes, and each link’s messages are confirmed by one of them', async () => {
    const verdicts = await sendOver(
      6,
      5,
      () => sseTransport({ url: `${cluster.url}/sse`, EventSource }),
      'sse',
    );
    expect(verdicts).toHaveLength(30);
    expect(await spread('sse', 6)).toBeGreaterThan(1);
  });

  it('WebSocket links through haproxy are spread round robin, each on one process', async () => {
    const wsUrl = `${cluster.url.replace('http', 'ws')}/ws`;
    const verdicts = await sendOver(
      6,
      5,
      () => webSocketTransport({ url: wsUrl, WebSocket }),
      'ws',
    );
    expect(verdicts).toHaveLength(30);
    expect(await spread('ws', 6)).toBe(3);
  });
});
