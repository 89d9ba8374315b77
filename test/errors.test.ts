import { describe, expect, it } from 'vitest';
import {
  ConnectionError,
  DeliveryError,
  HoldfastError,
  isConnectionError,
  isDeliveryError,
  isHoldfastError,
} from '../src/index.js';

describe('errors', () => {
  it('each class has its name, its fields and its cause', () => {
    const cause = new Error('socket closed');
    const delivery = new DeliveryError('rejected', 'm1', 'nope', { cause });
    expect(delivery).toBeInstanceOf(HoldfastError);
    expect(delivery).toBeInstanceOf(Error);
    expect([delivery.name, delivery.reason, delivery.messageId, delivery.cause]).toEqual([
      'DeliveryError',
      'rejected',
      'm1',
      cause,
    ]);
    const connection = new ConnectionError('fatal', 'refused', { code: 4001, status: 401 });
    expect([connection.name, connection.kind, connection.code, connection.status]).toEqual([
      'ConnectionError',
      'fatal',
      4001,
      401,
    ]);
    expect(new HoldfastError('x').name).toBe('HoldfastError');
  });

  it('the guards recognise errors from another realm by name', () => {
    const foreignDelivery = Object.assign(new Error('x'), {
      name: 'DeliveryError',
      reason: 'closed',
    });
    const foreignConnection = { name: 'ConnectionError', kind: 'link', message: 'x' };
    expect(isDeliveryError(foreignDelivery)).toBe(true);
    expect(isConnectionError(foreignConnection)).toBe(true);
    expect(isHoldfastError(foreignDelivery)).toBe(true);
    expect(isHoldfastError({ name: 'HoldfastError' })).toBe(true);
  });

  it('the guards refuse everything else', () => {
    for (const value of [new Error('x'), null, undefined, 'DeliveryError', { name: 'TypeError' }]) {
      expect(isDeliveryError(value)).toBe(false);
      expect(isConnectionError(value)).toBe(false);
      expect(isHoldfastError(value)).toBe(false);
    }
    expect(isDeliveryError(new ConnectionError('link', 'x'))).toBe(false);
    expect(isConnectionError(new DeliveryError('closed', 'm', 'x'))).toBe(false);
  });
});
