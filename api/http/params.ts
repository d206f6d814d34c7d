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
