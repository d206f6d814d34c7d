import { z } from 'zod';
import { AppError } from '../../common/errors.js';

/**
 * Opaque cursors for keyset pagination: the position a page ended at, as base64url JSON. A
 * client passes `nextCursor` back as `cursor`; anything else that does not decode to the
 * position's schema is a 400, so a cursor cannot carry anything into a query but that position.
 */
export const cursorParam = z
  .string()
  .max(512)
  .regex(/^[A-Za-z0-9_-]+$/);

export const limitParam = (max: number, fallback: number) =>
  z.coerce.number().int().min(1).max(max).default(fallback);

export function encodeCursor(position: unknown): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor<S extends z.ZodType>(schema: S, cursor: string): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new AppError('VALIDATION_FAILED', [{ path: 'cursor', message: 'is not a cursor' }]);
  }
  return result.data;
}

/**
 * Asks for one row more than a page holds: when it comes, there is a next page, which starts
 * after the page's last row.
 */
export function pageOf<T>(
  rows: T[],
  limit: number,
  positionOf: (row: T) => unknown,
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(positionOf(last)) : null,
  };
}
