import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OidcIdentitiesRepository } from '../../directory/sessions/oidc-identities.repository.js';
import { useDirectoryDb } from '../support/directory-db.js';

/**
 * The linked identities of OpenID Connect sign-in (P8), against the real schema as the API's
 * role: (issuer, subject) names one account, and the subject is kept only as a keyed hash.
 */
const db = useDirectoryDb();
const ISSUER = 'https://idp.example.test';
const OTHER_ISSUER = 'https://other-idp.example.test';
const INDEX_KEY = randomBytes(32);
const identities = () => new OidcIdentitiesRepository(db.pool, INDEX_KEY);
const newSub = () => `sub-${randomBytes(6).toString('hex')}`;

describe('P8: OidcIdentitiesRepository', () => {
  it('P8: finds the account an identity was linked to, and only for that issuer and subject', async () => {
    const repo = identities();
    const user = await db.createUser();
    const sub = newSub();
    expect(await repo.userOf(ISSUER, sub)).toBeNull();
    expect(await repo.link(user.id, ISSUER, sub)).toBe('linked');
    expect(await repo.userOf(ISSUER, sub)).toBe(user.id);
    // The same subject at another issuer is another person.
    expect(await repo.userOf(OTHER_ISSUER, sub)).toBeNull();
    expect(await repo.userOf(ISSUER, newSub())).toBeNull();
    expect(await repo.listForUser(user.id)).toEqual([
      { issuer: ISSUER, linkedAt: expect.any(Date) as Date },
    ]);
  });

  it('P8: one account per identity, one identity per account and issuer; linking again is a no-op', async () => {
    const repo = identities();
    const [first, second] = [await db.createUser(), await db.createUser()];
    const sub = newSub();
    expect(await repo.link(first.id, ISSUER, sub)).toBe('linked');
    expect(await repo.link(first.id, ISSUER, sub)).toBe('linked');
    expect(await repo.link(second.id, ISSUER, sub)).toBe('linked-to-another-account');
    expect(await repo.link(first.id, ISSUER, newSub())).toBe('account-has-another-identity');
    expect(await repo.link(first.id, OTHER_ISSUER, newSub())).toBe('linked');
    expect(await repo.userOf(ISSUER, sub)).toBe(first.id);
  });

  it('P8: two accounts racing to link one identity: exactly one wins', async () => {
    const repo = identities();
    const users = await Promise.all([1, 2, 3, 4].map(() => db.createUser()));
    const sub = newSub();
    const outcomes = await Promise.all(users.map((u) => repo.link(u.id, ISSUER, sub)));
    expect(outcomes.filter((o) => o === 'linked')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'linked-to-another-account')).toHaveLength(3);
  });

  it('P8: unlinking removes the link of that issuer only, once', async () => {
    const repo = identities();
    const user = await db.createUser();
    const [sub, otherSub] = [newSub(), newSub()];
    await repo.link(user.id, ISSUER, sub);
    await repo.link(user.id, OTHER_ISSUER, otherSub);
    expect(await repo.unlink(user.id, ISSUER)).toBe(true);
    expect(await repo.unlink(user.id, ISSUER)).toBe(false);
    expect(await repo.userOf(ISSUER, sub)).toBeNull();
    expect(await repo.userOf(OTHER_ISSUER, otherSub)).toBe(user.id);
    // Someone else's unlink does not touch it.
    expect(await repo.unlink((await db.createUser()).id, OTHER_ISSUER)).toBe(false);
  });

  it('P8: the subject is stored only as a keyed hash, and the link goes with the account', async () => {
    const repo = identities();
    const user = await db.createUser();
    const sub = newSub();
    await repo.link(user.id, ISSUER, sub);
    const { rows } = await db.admin.query<{ row: string; subject_index: Buffer }>(
      'SELECT row_to_json(i)::text AS row, subject_index FROM oidc_identities i WHERE user_id = $1',
      [user.id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.row).not.toContain(sub);
    expect(rows[0]!.subject_index.equals(createHash('sha256').update(sub).digest())).toBe(false);
    // Without the key the hash cannot be recomputed: another key finds nothing.
    expect(await new OidcIdentitiesRepository(db.pool, randomBytes(32)).userOf(ISSUER, sub)).toBe(
      null,
    );

    await db.admin.query('DELETE FROM users WHERE id = $1', [user.id]);
    expect(await repo.userOf(ISSUER, sub)).toBeNull();
  });

  it('P21: the API may link, find and unlink, but never rewrite a link', async () => {
    await expect(
      db.pool.query('UPDATE oidc_identities SET user_id = user_id WHERE false'),
    ).rejects.toThrow(/permission denied/);
  });
});
