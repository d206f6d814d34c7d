import type { DataKey } from '../crypto/data-key.js';
import { registrationField } from '../crypto/sealed-fields.js';
import type { Queryable } from '../db/transaction.js';

/**
 * P4: when, from which address and with which browser an account was registered. IP and
 * User-Agent are personal, so they are sealed with the user's data key; the row expires after
 * `days` and the jobs component deletes it then.
 */
export class RegistrationsRepository {
  constructor(private readonly db: Queryable) {}

  async record(
    userId: string,
    userKey: DataKey,
    client: { ip: string | undefined; userAgent: string | undefined },
    days: number,
  ): Promise<void> {
    await this.db.query(
      `INSERT INTO registrations (user_id, ip_ciphertext, user_agent_ciphertext, expires_at)
       VALUES ($1, $2, $3, now() + make_interval(days => $4))`,
      [
        userId,
        userKey.sealOptional(registrationField(userId, 'ip'), client.ip),
        userKey.sealOptional(
          registrationField(userId, 'user_agent'),
          client.userAgent?.slice(0, 512),
        ),
        days,
      ],
    );
  }
}
