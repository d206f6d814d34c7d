import { randomUUID } from 'node:crypto';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { API_BODY_LIMIT_BYTES } from '../../api/app.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentTerms } from '../support/accounts.js';
import {
  apiOperations,
  errorShapeProblem,
  examples,
  send,
  type ApiOperation,
  type Fixtures,
} from '../support/api-operations.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { startTestMailbox, type TestMailbox } from '../support/smtp-catcher.js';

/** Runs per operation: enough to try each kind of value, bounded so the file takes seconds. */
const RUNS = 25;

/** Values that have broken parsers, queries and encoders before. */
const hostileStrings = [
  '',
  ' ',
  "'",
  '"',
  '\\',
  '\n',
  '\r\n',
  '\u0000',
  '\u2028',
  '%',
  '%00',
  '../..',
  '😀',
  'Ω≈ç√∫',
  'null',
  'true',
  '[]',
  '{}',
  "'; DROP TABLE users; --",
  '" OR "1"="1',
  "1' OR '1'='1",
  'temperature" ; DROP DATABASE telemoat --',
  "temperature' OR 1=1 --",
  'SELECT * FROM "readings" WHERE time > 0',
  '/.*/',
  'time > now() - 10000w',
  '$1',
  '-1',
  '0',
  '1e309',
  '-9223372036854775809',
  '9'.repeat(400),
  'NaN',
  'Infinity',
  '2024-02-30T25:61:00Z',
  '0000-01-01T00:00:00Z',
  'a'.repeat(2000),
];

const anyString = fc.oneof(
  fc.constantFrom(...hostileStrings),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  anyString,
  fc.integer(),
  fc.double(),
  fc.constantFrom(1e308, -0, Number.MAX_SAFE_INTEGER + 2, -1, 0),
  fc.boolean(),
  fc.constant(null),
  fc.array(anyString, { maxLength: 3 }),
  fc.dictionary(anyString, anyString, { maxKeys: 3 }),
);

/** URLs cannot carry lone surrogates; they become U+FFFD, as a browser would send them. */
function wellFormed(value: string): string {
  return value.replace(
    /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    '\ufffd',
  );
}

const notJson = ['{', '{"name":', 'nul', '[1,2', '"unterminated', '\u0000', "{'single': 1}"];

/**
 * Path segments sent as they are, not encoded: escapes the router cannot decode (a lone `%`,
 * non-hex digits, a cut or overlong UTF-8 sequence) and ones it decodes into trouble.
 */
const rawSegments = ['%', '%zz', '%E0%A4%A', '%ff', '%C0%AF', '%u0041', '%2e%2e', '%00', '%25%'];

/** Bodies as they arrive on the wire: compressed, cut, mislabelled, or too large once inflated. */
function encodedBodies(valid: unknown): fc.Arbitrary<{ raw: Uint8Array; encoding: string }> {
  const json = Buffer.from(JSON.stringify(valid));
  const cut = (data: Buffer) => data.subarray(0, Math.max(1, Math.floor(data.length / 2)));
  const huge = Buffer.from(JSON.stringify({ name: 'x'.repeat(API_BODY_LIMIT_BYTES * 4) }));
  return fc.constantFrom(
    { raw: gzipSync(json), encoding: 'gzip' },
    { raw: deflateSync(json), encoding: 'deflate' },
    { raw: brotliCompressSync(json), encoding: 'br' },
    { raw: cut(gzipSync(json)), encoding: 'gzip' },
    { raw: cut(deflateSync(json)), encoding: 'deflate' },
    { raw: cut(brotliCompressSync(json)), encoding: 'br' },
    { raw: json, encoding: 'gzip' },
    { raw: gzipSync(json), encoding: 'br' },
    { raw: gzipSync(gzipSync(json)), encoding: 'gzip, gzip' },
    { raw: json, encoding: 'compress' },
    { raw: gzipSync(huge), encoding: 'gzip' },
    { raw: huge, encoding: 'identity' },
  );
}

describe('fuzzing every operation with valid and hostile values, raw paths, encodings and sizes', () => {
  let platform: TestPlatform;
  let mailbox: TestMailbox;
  let operations: ApiOperation[];
  let fixtures: Omit<Fixtures, 'caller'>;
  let owner: { email: string; password: string; userId: string };
  let validPath: Record<string, string>;

  beforeAll(async () => {
    mailbox = await startTestMailbox();
    platform = await startTestPlatform({
      SMTP_URL: mailbox.url,
      RATE_LIMIT_PER_IP_PER_MINUTE: '1000000',
      RATE_LIMIT_PER_USER_PER_MINUTE: '1000000',
    });
    const org = await platform.createOrg('Fuzzed Greenhouses');
    const device = await platform.provisionDevice(org.id, 'Greenhouse 1');
    owner = await platform.createMember(org.id, 'owner');
    // The owner holds the security role too, so one caller reaches every route.
    await platform.adminPool.query(
      `INSERT INTO platform_roles (user_id, role) VALUES ($1, 'security')`,
      [owner.userId],
    );
    const member = await platform.createMember(org.id, 'member');
    fixtures = {
      platform,
      orgId: org.id,
      deviceId: device.id,
      termsVersion: await currentTerms(platform),
    };
    validPath = {
      orgId: org.id,
      deviceId: device.id,
      userId: member.userId,
      invitationId: randomUUID(),
      metric: 'temperature',
      id: randomUUID(),
      provider: 'no-such-provider',
    };
    operations = (await apiOperations(platform)).sort((a, b) => order(a) - order(b));
  });

  afterAll(async () => {
    await platform?.close();
    await mailbox?.stop();
  });

  /** Reads first, then changes, then deletions, and ending sessions last of all. */
  function order(op: ApiOperation): number {
    if (op.path.includes('/logout')) return 3;
    if (op.method === 'DELETE') return 2;
    return op.method === 'GET' ? 0 : 1;
  }

  /** Valid or hostile values for each part of one operation's request. */
  function requests(op: ApiOperation) {
    const example = examples[op.operationId];
    const validQuery = example?.query?.(fixtures) ?? {};
    const params = fc.record(
      Object.fromEntries(
        op.pathParams.map((name) => {
          const valid = validPath[name];
          if (valid === undefined) throw new Error(`${op.operationId}: no value for ${name}`);
          return [
            name,
            fc.oneof(
              { arbitrary: fc.constant({ encoded: valid }), weight: 2 },
              anyString.map((value) => ({ encoded: encodeURIComponent(wellFormed(value)) })),
              fc.constantFrom(...rawSegments).map((segment) => ({ encoded: segment })),
            ),
          ];
        }),
      ),
    );
    const query = fc
      .array(
        fc.oneof(
          ...op.queryParams.map((p) =>
            fc.tuple(
              fc.constant(p.name),
              fc.oneof(fc.constant(validQuery[p.name] ?? '1'), anyString),
            ),
          ),
          fc.tuple(anyString, anyString),
        ),
        { maxLength: 4 },
      )
      .map((pairs) => ({ fixed: validQuery, pairs }));
    const validBody = example?.body ? example.body({ ...fixtures, caller: owner }) : {};
    const body: fc.Arbitrary<{ json?: unknown; raw?: string | Uint8Array; encoding?: string }> =
      op.method === 'GET'
        ? fc.constant({})
        : fc.oneof(
            fc.constant({ json: validBody }),
            fc.record({ json: anyJson }),
            fc.tuple(anyString, anyJson).map(([key, value]) => ({
              json:
                typeof validBody === 'object' && validBody !== null
                  ? {
                      ...validBody,
                      [Object.keys(validBody)[0] ?? key]: value,
                    }
                  : { [key]: value },
            })),
            fc.record({ raw: fc.constantFrom(...notJson) }),
            fc.constant({ json: { name: 'x'.repeat(API_BODY_LIMIT_BYTES) } }),
            encodedBodies(validBody),
          );
    return fc.record({ params, query, body });
  }

  it('never answers 5xx, and every 4xx is { code, message } with a code the operation documents', async () => {
    const token = await platform.login(owner.email, owner.password);
    const problems: string[] = [];
    for (const op of operations) {
      const result = await fc.check(
        fc.asyncProperty(requests(op), async ({ params, query, body }) => {
          let path = op.path;
          for (const name of op.pathParams) {
            path = path.replace(`{${name}}`, params[name]?.encoded ?? '');
          }
          const search = new URLSearchParams([
            ...Object.entries(query.fixed),
            ...query.pairs.map(([k, v]) => [wellFormed(k), wellFormed(v)] as [string, string]),
          ]);
          const answer = await send(
            platform,
            op.method,
            { path, query: search, body: body.json },
            token,
            body.raw === undefined
              ? undefined
              : { body: body.raw, ...(body.encoding ? { encoding: body.encoding } : {}) },
          );
          if (answer.status >= 500) {
            throw new Error(`answered ${answer.status} ${JSON.stringify(answer.body)}`);
          }
          if (answer.status >= 400) {
            // A mangled path is another URL, one that does not exist.
            const missing =
              answer.status === 404 && (answer.body as { code?: string }).code === 'NOT_FOUND';
            const problem = missing ? null : errorShapeProblem(op, answer);
            if (problem) throw new Error(problem);
          }
        }),
        { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
      );
      if (result.failed) {
        problems.push(
          `${op.method} ${op.path}: ${String(result.errorInstance)} with ${fc.stringify(result.counterexample)} (seed ${result.seed})`.slice(
            0,
            800,
          ),
        );
      }
    }
    expect(operations.length).toBeGreaterThanOrEqual(24);
    expect(problems).toEqual([]);
  }, 120_000);
});
