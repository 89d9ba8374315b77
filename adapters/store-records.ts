/**
 * The checks of one stored record — a message, a stream position — shared by every store
 * that reads records back (`fileStore`, and the connection reading any store's answer):
 * each returns a fresh copy with only the known fields, or a phrase naming what is wrong.
 * `strict` (reading a file this holdfast wrote) refuses fields it does not know; a
 * store of someone else's may carry extra fields, which are left out.
 */
import { WireLimit } from './protocol.js';
import type { StoredMessage } from './store.js';
import type { StreamPosition } from './transport.js';

const MESSAGE_KEYS = new Set(['id', 'serial', 'json', 'retry', 'sent']);
const POSITION_KEYS = new Set(['stream', 'seq', 'epoch']);

export function checkMessage(value: unknown, strict: boolean): StoredMessage | string {
  if (!isObject(value)) return ' is not an object';
  const unknown = strict && Object.keys(value).find((key) => !MESSAGE_KEYS.has(key));
  if (unknown) return ` has an unknown field "${unknown}"`;
  const { id, serial, json, retry, sent } = value;
  if (!isText(id, WireLimit.nameChars))
    return `.id is not an id of 1–${WireLimit.nameChars} characters`;
  if (!isCount(serial, 1)) return '.serial is not an integer ≥ 1';
  if (typeof json !== 'string') return '.json is not a string';
  if (typeof retry !== 'boolean') return '.retry is not true or false';
  if (typeof sent !== 'boolean') return '.sent is not true or false';
  return { id, serial, json, retry, sent };
}

export function checkPosition(value: unknown, strict: boolean): StreamPosition | string {
  if (!isObject(value)) return ' is not an object';
  const unknown = strict && Object.keys(value).find((key) => !POSITION_KEYS.has(key));
  if (unknown) return ` has an unknown field "${unknown}"`;
  const { stream, seq, epoch } = value;
  if (!isText(stream, WireLimit.nameChars))
    return `.stream is not a name of 1–${WireLimit.nameChars} characters`;
  if (!isCount(seq, 0)) return '.seq is not an integer ≥ 0';
  if (epoch === undefined) return { stream, seq };
  if (!isText(epoch, WireLimit.epochChars))
    return `.epoch is not a string of 1–${WireLimit.epochChars} characters`;
  return { stream, seq, epoch };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= max;
}

export function isCount(value: unknown, min: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= min;
}
