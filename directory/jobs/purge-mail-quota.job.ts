import type pg from 'pg';

/** The mail quota counts one hour back; a day's rows are plenty to read it, older ones go. */
export async function purgeMailQuota(pool: pg.Pool): Promise<{ mailQuota: number }> {
  const { rowCount } = await pool.query(
    "DELETE FROM mail_quota WHERE sent_at < now() - interval '1 day'",
  );
  return { mailQuota: rowCount ?? 0 };
}
