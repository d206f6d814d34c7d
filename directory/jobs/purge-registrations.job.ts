import type pg from 'pg';

/**
 * P4: the registration record (time, IP address and User-Agent of a sign-up) is kept only for
 * REGISTRATION_RECORD_DAYS; the API stamps each row with that expiry and this deletes it then.
 * Connects as `telemoat_jobs`, which cannot read the sealed values it deletes.
 */
export async function purgeExpiredRegistrations(pool: pg.Pool): Promise<{ registrations: number }> {
  const { rowCount } = await pool.query('DELETE FROM registrations WHERE expires_at <= now()');
  return { registrations: rowCount ?? 0 };
}
