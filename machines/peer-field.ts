/**
 * Reading a peer's object: a transport's welcome or outcome, a store's answer. Its getters
 * may throw and its fields be of any type, so a field is read here and checked by the
 * caller; a field that throws reads as undefined.
 */
export function field(value: unknown, name: string): unknown {
  try {
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)[name]
      : undefined;
  } catch {
    return undefined;
  }
}
