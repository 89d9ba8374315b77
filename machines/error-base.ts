/** The base of every holdfast error, and what both error classes share. */

export interface HoldfastErrorOptions {
  cause?: unknown;
}

/** The base of every error holdfast reports. */
export class HoldfastError extends Error {
  override name = 'HoldfastError';
  constructor(message: string, options?: HoldfastErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** The HTTP status a transport put on an error (`httpStatus`), if it is one. */
export function httpStatusOf(error: unknown): number | undefined {
  const status = (error as { httpStatus?: unknown } | null | undefined)?.httpStatus;
  return typeof error === 'object' &&
    Number.isInteger(status) &&
    (status as number) >= 100 &&
    (status as number) <= 599
    ? (status as number)
    : undefined;
}
