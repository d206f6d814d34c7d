import { z } from 'zod';
import { deviceIdPattern, metricPattern } from '../../common/ids.js';
import { cursorParam, limitParam } from './page-cursor.js';

/** Path and query parameters that several routes share, each defined once. */
export const orgParams = z.object({ orgId: z.uuid() });
export const deviceParams = orgParams.extend({ deviceId: z.string().regex(deviceIdPattern) });
export const metricName = z.string().regex(metricPattern);
/** An instant with its offset, as `from` and `to` of a time range. */
export const isoTime = z.iso.datetime({ offset: true });
/** A page of a long list: `limit` items after the `cursor` of the page before. */
export const pageQuery = z.strictObject({
  limit: limitParam(500, 100),
  cursor: cursorParam.optional(),
});

/**
 * `devices=id1,id2`: a comma-separated list of at most `max` device ids, each kept once. The
 * text is bounded before it is split: an id has at most 64 characters, plus its comma.
 */
export function deviceIdList(max: number) {
  return z
    .string()
    .max(max * 65)
    .transform((value) => [...new Set(value.split(','))])
    .pipe(z.array(z.string().regex(deviceIdPattern)).min(1).max(max));
}
