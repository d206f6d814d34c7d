import type pg from 'pg';

/** Reset links that expired unused: nothing can use them any more. */
export async function purgeExpiredPasswordResets(
  pool: pg.Pool,
): Promise<{ passwordResets: number }> {
  const { rowCount } = await pool.query('DELETE FROM password_resets WHERE expires_at <= now()');
  return { passwordResets: rowCount ?? 0 };
}
