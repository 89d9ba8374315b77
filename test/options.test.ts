import { describe, expect, it } from 'vitest';
import { createMemoryServer } from '../adapters/memory.js';
import { backoffDelay } from '../machines/backoff.js';
import { resolveOptions } from '../machines/options.js';
import { createConnection, defaults } from '../src/index.js';

const transport = createMemoryServer({ heartbeatMs: 0 }).transport();

describe('options', () => {
  it('fills in every documented default', () => {
    const resolved = resolveOptions({ transport });
    expect(resolved).toMatchObject({
      maxQueue: 1000,
      overflow: 'reject',
      maxAttempts: Number.POSITIVE_INFINITY,
      maxDeliveryAttempts: 5,
      connectTimeoutMs: 10_000,
      resumeTimeoutMs: 15_000,
      heartbeatTimeoutMs: 45_000,
      maxInFlight: 64,
    });
    expect(resolveOptions({ transport: { connect: transport.connect } }).maxInFlight).toBe(
      defaults.maxInFlight,
    );
    expect(resolved.createId()).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a missing transport names the option', () => {
    expect(() => createConnection({} as never)).toThrow(TypeError);
    expect(() => createConnection({} as never)).toThrow(
      /transport is required and must be a Transport/,
    );
    expect(() => createConnection({ transport: {} as never })).toThrow(/transport is required/);
    expect(() => createConnection(undefined as never)).toThrow(/options must be an object/);
  });

  it.each([
    ['maxQueue', 0],
    ['maxQueue', 1.5],
    ['maxAttempts', -1],
    ['maxDeliveryAttempts', '5'],
  ])('a count that is not an integer ≥ 1 or Infinity is refused: %s = %j', (name, value) => {
    expect(() => resolveOptions({ transport, [name]: value })).toThrow(
      new RegExp(`${name} must be an integer ≥ 1 or Infinity`),
    );
  });

  it('counts accept Infinity', () => {
    expect(resolveOptions({ transport, maxQueue: Number.POSITIVE_INFINITY }).maxQueue).toBe(
      Number.POSITIVE_INFINITY,
    );
  });

  it.each([
    ['connectTimeoutMs', 0],
    ['resumeTimeoutMs', 2 ** 31],
    ['heartbeatTimeoutMs', -1],
    ['connectTimeoutMs', Number.POSITIVE_INFINITY],
    ['resumeTimeoutMs', 10.5],
  ])('a timeout outside 1..2³¹−1 ms is refused: %s = %j', (name, value) => {
    expect(() => resolveOptions({ transport, [name]: value })).toThrow(
      new RegExp(`${name} must be an integer from`),
    );
  });

  it('heartbeatTimeoutMs also accepts 0, and the largest timeout is accepted', () => {
    expect(resolveOptions({ transport, heartbeatTimeoutMs: 0 }).heartbeatTimeoutMs).toBe(0);
    expect(resolveOptions({ transport, connectTimeoutMs: 2 ** 31 - 1 }).connectTimeoutMs).toBe(
      2 ** 31 - 1,
    );
  });

  it('an unknown overflow names the accepted values', () => {
    expect(() => resolveOptions({ transport, overflow: 'drop-newest' as never })).toThrow(
      "overflow must be 'reject' or 'drop-oldest', got \"drop-newest\"",
    );
  });

  it('backoff and createId must be functions; transport.maxInFlight a count', () => {
    expect(() => resolveOptions({ transport, backoff: 5 as never })).toThrow(
      /backoff must be a function, got 5/,
    );
    expect(() => resolveOptions({ transport, createId: 'x' as never })).toThrow(
      /createId must be a function/,
    );
    expect(() =>
      resolveOptions({ transport: { connect: transport.connect, maxInFlight: 0 } }),
    ).toThrow(/transport.maxInFlight must be an integer ≥ 1 or Infinity, got 0/);
  });

  it('a backoff that throws or answers nonsense falls back to the default; huge waits are clamped', () => {
    const fallback = backoffDelay(() => Number.NaN, 1);
    expect(fallback).toBeGreaterThanOrEqual(0);
    expect(fallback).toBeLessThan(500);
    expect(backoffDelay(() => -5, 2)).toBeLessThan(1000);
    expect(
      backoffDelay(() => {
        throw new Error('bug');
      }, 1),
    ).toBeLessThan(500);
    expect(backoffDelay(() => 1e12, 1)).toBe(2 ** 31 - 1);
    expect(backoffDelay(() => 1234.7, 1)).toBe(1234);
  });
});
