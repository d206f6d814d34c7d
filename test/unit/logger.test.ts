import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, idleConnectionFailure, safeUrl } from '../../common/logger.js';

describe('logging', () => {
  function capture() {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    return { lines, logger: createLogger({ name: 'test', level: 'info', destination }) };
  }

  it('redacts secrets wherever they appear in a record, at any depth', () => {
    const { lines, logger } = capture();
    const secrets = {
      password: 'hunter22',
      device: { secret: 'device-secret' },
      req: { headers: { authorization: 'Bearer abc.def.ghi', cookie: 'sid=1' } },
      res: { headers: { 'set-cookie': 'telemoat_refresh=refresh-value' } },
      token: 'tok-value',
      config: {
        JWT_PRIVATE_KEY: 'jwt-private-key-pem',
        SECURITY_LOG_KEY: 'security-log-key',
        API_DATABASE_URL: 'postgres://api:db-password@db/telemoat',
        BROKER_DATABASE_URL: 'postgres://broker:broker-db-password@db/telemoat',
        INFLUX_API_PASSWORD: 'influx-api-password',
        INFLUX_INGEST_PASSWORD: 'influx-ingest-password',
        DIRECTORY_MASTER_KEYS: 'master-keys',
        EMAIL_INDEX_KEY: 'email-index-key',
        SMTP_URL: 'smtp://mail:smtp-password@mail',
        providers: [{ id: 'corp', clientSecret: 'oidc-client-secret' }],
      },
      deep: { a: { b: { c: { d: { refreshToken: 'deep-refresh-token' } } } } },
    };
    logger.child({ module: 'test' }).info(secrets, 'hello');
    const err = Object.assign(new Error('boom'), { connectionString: 'postgres://x:err-pw@h/d' });
    logger.error({ err }, 'failed');
    const text = lines.join('');
    for (const secret of [
      'hunter22',
      'device-secret',
      'abc.def.ghi',
      'sid=1',
      'refresh-value',
      'tok-value',
      'jwt-private-key-pem',
      'security-log-key',
      'db-password',
      'broker-db-password',
      'influx-api-password',
      'influx-ingest-password',
      'master-keys',
      'email-index-key',
      'smtp-password',
      'oidc-client-secret',
      'deep-refresh-token',
      'err-pw',
    ]) {
      expect(text, secret).not.toContain(secret);
    }
    expect(text).toContain('"module":"test"');
    expect(text).toContain('"msg":"hello"');
    expect(text).toContain('boom');
    // Counts under such names are no secrets.
    logger.info({ result: { passwordResets: 3, refreshTokens: 0 } }, 'purged');
    expect(lines.at(-1)).toContain('"passwordResets":3');
    // The caller's object is not changed by logging it.
    expect(secrets.password).toBe('hunter22');
  });

  it("logs a failed idle Postgres connection in one short line, without the driver's client", () => {
    const { lines, logger } = capture();
    const err = Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
      client: { connectionParameters: { user: 'telemoat_broker' }, huge: 'x'.repeat(5000) },
    });
    idleConnectionFailure(logger)(err);
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      code: '57P01',
      reason: 'terminating connection due to administrator command',
      msg: 'idle Postgres connection failed',
    });
    expect(lines[0]).not.toContain('telemoat_broker');
    expect(lines[0]!.length).toBeLessThan(400);
  });

  it('logs a cyclic object without looping', () => {
    const { lines, logger } = capture();
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    logger.info({ cyclic }, 'cycle');
    expect(lines.join('')).toContain('"self":"[cut]"');
  });

  it('hides the password of a URL before it is logged', () => {
    expect(safeUrl('postgres://telemoat_api:s3cret@db:5432/telemoat')).toBe(
      'postgres://telemoat_api:***@db:5432/telemoat',
    );
  });
});
