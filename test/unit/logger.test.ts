import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { redactPaths, safeUrl } from '../../common/logger.js';

describe('logging', () => {
  it('redacts secrets wherever they appear in a record', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ redact: { paths: redactPaths, censor: '[redacted]' } }, sink);
    logger.child({ module: 'test' }).info(
      {
        password: 'hunter22',
        device: { secret: 'device-secret' },
        req: { headers: { authorization: 'Bearer abc.def.ghi', cookie: 'sid=1' } },
        token: 'tok',
      },
      'hello',
    );
    const line = lines.join('');
    for (const secret of ['hunter22', 'device-secret', 'abc.def.ghi', 'sid=1', '"tok"']) {
      expect(line).not.toContain(secret);
    }
    expect(line).toContain('"module":"test"');
    expect(line.match(/\[redacted\]/g)?.length).toBe(5);
  });

  it('hides the password of a URL before it is logged', () => {
    expect(safeUrl('postgres://telemoat_api:s3cret@db:5432/telemoat')).toBe(
      'postgres://telemoat_api:***@db:5432/telemoat',
    );
  });
});
