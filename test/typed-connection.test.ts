/**
 * `createConnection<TSend, TReceive>()` (issue 13): a payload type catches, at compile
 * time, the mistake of sending a string where an object is expected — a mistake that
 * otherwise reaches the wire. `npm run typecheck` fails if an expected error goes away.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createMemoryServer } from '../adapters/memory.js';
import {
  type ConnectionEvent,
  type ConnectionParentEvent,
  createConnection,
  type SendReceipt,
} from '../src/index.js';

interface ChatLine {
  text: string;
}

describe('a typed connection', () => {
  it('send takes only TSend, message listeners get TReceive, send resolves a receipt', async () => {
    const received: unknown[] = [];
    const server = createMemoryServer({ onMessage: ({ data }) => received.push(data) });
    const conn = createConnection<ChatLine, { from: string }>({ transport: server.transport() });
    // @ts-expect-error a string is not a ChatLine
    const mistake = () => conn.send('hello');
    expect(typeof mistake).toBe('function');
    conn.on('message', (data) => {
      expectTypeOf(data).toEqualTypeOf<{ from: string }>();
    });
    const receipt = await conn.send({ text: 'hello' });
    expectTypeOf(receipt).toEqualTypeOf<SendReceipt>();
    expect(receipt).toEqual({ confirmed: true });
    expect(received).toEqual([{ text: 'hello' }]);
    conn.close();
  });

  it('an embedding parent types the events it sends and hears by payload', () => {
    const good: ConnectionEvent<ChatLine> = { type: 'send', data: { text: 'hello' } };
    // @ts-expect-error a string is not a ChatLine: it would reach the wire as a string
    const bad: ConnectionEvent<ChatLine> = { type: 'send', data: 'hello' };
    // @ts-expect-error nor in a batch
    const batch: ConnectionEvent<ChatLine> = { type: 'send', messages: [{ data: 42 }] };
    const heard = (event: ConnectionParentEvent<ChatLine>) =>
      event.type === 'holdfast.message' ? event.data.text : undefined;
    expectTypeOf(heard).returns.toEqualTypeOf<string | undefined>();
    expect([good, bad, batch].map((e) => e.type)).toEqual(['send', 'send', 'send']);
  });
});
