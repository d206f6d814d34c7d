import type {
  LinkOutcome,
  LinkedIdentity,
  OidcIdentitiesRepository,
} from './oidc-identities.repository.js';

/** Linked OpenID Connect identities in memory, with the repository's two uniqueness rules. */
export class FakeOidcIdentities implements Pick<
  OidcIdentitiesRepository,
  keyof OidcIdentitiesRepository
> {
  private readonly links = new Map<string, { userId: string; issuer: string; linkedAt: Date }>();

  constructor(private readonly now: () => number = Date.now) {}

  userOf(issuer: string, subject: string): Promise<string | null> {
    return Promise.resolve(this.links.get(keyOf(issuer, subject))?.userId ?? null);
  }

  link(userId: string, issuer: string, subject: string): Promise<LinkOutcome> {
    const owner = this.links.get(keyOf(issuer, subject))?.userId;
    if (owner !== undefined) {
      return Promise.resolve(owner === userId ? 'linked' : 'linked-to-another-account');
    }
    if ([...this.links.values()].some((l) => l.userId === userId && l.issuer === issuer)) {
      return Promise.resolve('account-has-another-identity');
    }
    this.links.set(keyOf(issuer, subject), { userId, issuer, linkedAt: new Date(this.now()) });
    return Promise.resolve('linked');
  }

  unlink(userId: string, issuer: string): Promise<boolean> {
    for (const [key, link] of this.links) {
      if (link.userId === userId && link.issuer === issuer)
        return Promise.resolve(this.links.delete(key));
    }
    return Promise.resolve(false);
  }

  listForUser(userId: string): Promise<LinkedIdentity[]> {
    return Promise.resolve(
      [...this.links.values()]
        .filter((l) => l.userId === userId)
        .map(({ issuer, linkedAt }) => ({ issuer, linkedAt })),
    );
  }
}

const keyOf = (issuer: string, subject: string) => JSON.stringify([issuer, subject]);
