import { get, type IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { STREAM_LIMIT_DEFAULTS } from '../../api/live/stream-guard.js';
import { CHUNK_ROWS } from '../../influx/readings.export.js';
import { READING_FUTURE_SLACK_MS } from '../../common/limits.js';
import { startApiApp, useApiApp, type ApiApp } from '../support/api-app.js';
import { until } from '../support/wait.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** RFC 4180 records: CRLF line ends, quoted cells with doubled quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) throw new Error('the last record does not end with CRLF');
  return rows;
}

describe('export route (P19)', () => {
  const app = useApiApp();

  async function orgWithMember() {
    const org = await app.org();
    return { org, member: await app.member(org.id, 'member') };
  }

  it("P19: downloads the organisation's readings as CSV, oldest first, named by device id and name only", async () => {
    const { org, member } = await orgWithMember();
    const north = await app.device(org, 'North');
    const south = await app.device(org, 'South');
    const other = await app.device(await app.org('Other'), 'Not ours');
    const now = app.clock.now();
    app.readings(north, [
      { metric: 'temperature', value: 21.5, time: now - 3000 },
      { metric: 'door_open', value: false, time: now - 1000 },
    ]);
    app.readings(south, [{ metric: 'temperature', value: -4, time: now - 2000 }]);
    app.readings(other, [{ metric: 'temperature', value: 99, time: now - 2500 }]);

    const answer = await app.request('GET', `/orgs/${org.id}/export`, { token: member.token });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('text/csv; charset=utf-8; header=present');
    // The day comes from the API's clock.
    expect(answer.headers.get('content-disposition')).toBe(
      'attachment; filename="telemoat-readings-2026-06-01.csv"',
    );
    expect(answer.text).toBe(
      'time,device_id,device_name,metric,value\r\n' +
        `${iso(now - 3000)},${north.id},North,temperature,21.5\r\n` +
        `${iso(now - 2000)},${south.id},South,temperature,-4\r\n` +
        `${iso(now - 1000)},${north.id},North,door_open,false\r\n`,
    );
    for (const hidden of [north.pseudonym, org.tenantKey, other.id, 'Not ours']) {
      expect(answer.text).not.toContain(hidden);
    }
  });

  it('escapes CSV cells (RFC 4180) and defuses spreadsheet formulas (OWASP CSV injection)', async () => {
    const { org, member } = await orgWithMember();
    const names = {
      'Comma, Inc': '"Comma, Inc"',
      'Say "hi"': '"Say ""hi"""',
      'Two\r\nlines': '"Two\r\nlines"',
      '=HYPERLINK("http://evil.test")': `"'=HYPERLINK(""http://evil.test"")"`,
      '+46 70': "'+46 70",
      '-1+1': "'-1+1",
      '@SUM(A1:A9)': "'@SUM(A1:A9)",
      '\tTabbed': "'\tTabbed",
      'Plain name': 'Plain name',
    };
    const time = app.clock.now() - 1000;
    for (const name of Object.keys(names)) {
      // Straight into the directory: the API refuses control characters in new names, but a
      // name stored before that rule must still come out as one cell.
      app.readings(await app.device(org, name), [{ metric: 'temperature', value: 1, time }]);
    }
    const answer = await app.request('GET', `/orgs/${org.id}/export`, { token: member.token });
    for (const [name, cell] of Object.entries(names)) {
      expect(answer.text).toContain(`,${cell},temperature,1\r\n`);
      // Never as it was typed, unless it needed nothing.
      if (cell !== name) expect(answer.text).not.toContain(`,${name},`);
    }
    const [head, ...rows] = parseCsv(answer.text);
    expect(head).toEqual(['time', 'device_id', 'device_name', 'metric', 'value']);
    expect(rows).toHaveLength(Object.keys(names).length);
    // Every row has its five cells; the names read back as the inert text.
    expect(rows.every((row) => row.length === 5)).toBe(true);
    expect(rows.map((row) => row[2]).sort()).toEqual(
      Object.keys(names)
        .map((name) => (/^[=+\-@\t\r]/.test(name) ? `'${name}` : name))
        .sort(),
    );
  });

  it('downloads NDJSON: one JSON object per line, with the device id and name', async () => {
    const { org, member } = await orgWithMember();
    const device = await app.device(org, 'Line "one"');
    const now = app.clock.now();
    app.readings(device, [
      { metric: 'temperature', value: 1.25, time: now - 2000 },
      { metric: 'alarm', value: true, time: now - 1000 },
    ]);
    const answer = await app.request('GET', `/orgs/${org.id}/export`, {
      token: member.token,
      query: { format: 'ndjson' },
    });
    expect(answer.headers.get('content-type')).toBe('application/x-ndjson');
    expect(answer.headers.get('content-disposition')).toContain('.ndjson"');
    expect(answer.text.endsWith('\n')).toBe(true);
    expect(
      answer.text
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
    ).toEqual([
      {
        time: iso(now - 2000),
        deviceId: device.id,
        deviceName: 'Line "one"',
        metric: 'temperature',
        value: 1.25,
      },
      {
        time: iso(now - 1000),
        deviceId: device.id,
        deviceName: 'Line "one"',
        metric: 'alarm',
        value: true,
      },
    ]);
  });

  it('streams every reading of a long range, chunk after chunk, in time order', async () => {
    const { org, member } = await orgWithMember();
    const device = await app.device(org, 'Busy');
    const count = CHUNK_ROWS * 2 + 500;
    const start = app.clock.now() - count * 1000;
    app.readings(
      device,
      Array.from({ length: count }, (_, i) => ({
        metric: 'counter',
        value: i,
        time: start + i * 1000,
      })),
    );
    const answer = await app.request('GET', `/orgs/${org.id}/export`, { token: member.token });
    const rows = parseCsv(answer.text).slice(1);
    expect(rows).toHaveLength(count);
    expect(rows.map((row) => Number(row[4]))).toEqual(Array.from({ length: count }, (_, i) => i));
  });

  it('by default exports everything up to 5 minutes from now; a range and a device filter narrow it', async () => {
    const { org, member } = await orgWithMember();
    const a = await app.device(org, 'A');
    const b = await app.device(org, 'B');
    const now = app.clock.now();
    const ahead = now + READING_FUTURE_SLACK_MS;
    app.readings(a, [
      { metric: 'level', value: 1, time: 1000 },
      { metric: 'level', value: 2, time: ahead - 1 },
      { metric: 'level', value: 3, time: ahead },
    ]);
    app.readings(b, [{ metric: 'level', value: 4, time: now - 1000 }]);
    const values = async (query: Record<string, string> = {}) =>
      parseCsv(
        (await app.request('GET', `/orgs/${org.id}/export`, { token: member.token, query })).text,
      )
        .slice(1)
        .map((row) => row[4]);

    expect(await values()).toEqual(['1', '4', '2']);
    expect(await values({ devices: a.id })).toEqual(['1', '2']);
    expect(await values({ from: iso(now - 60_000), to: iso(now) })).toEqual(['4']);
  });

  it("P2: leaves out readings of removed devices, and refuses another organisation's device", async () => {
    const { org, member } = await orgWithMember();
    const gone = await app.device(org, 'Gone');
    const kept = await app.device(org, 'Kept');
    const theirs = await app.device(await app.org('Other'), 'Theirs');
    const time = app.clock.now() - 1000;
    app.readings(gone, [{ metric: 'level', value: 1, time }]);
    app.readings(kept, [{ metric: 'level', value: 2, time }]);
    await app.stores.devices.remove(org.id, gone.id);

    const all = await app.request('GET', `/orgs/${org.id}/export`, { token: member.token });
    expect(parseCsv(all.text).slice(1)).toEqual([[iso(time), kept.id, 'Kept', 'level', '2']]);

    const refused = await app.request('GET', `/orgs/${org.id}/export`, {
      token: member.token,
      query: { devices: `${kept.id},${theirs.id}` },
    });
    expect(refused.status).toBe(404);
    expect(refused.headers.get('content-disposition')).toBeNull();
    expect(refused.body).toMatchObject({ code: 'NOT_FOUND' });
  });

  describe('P9: a download in progress is cut when its holder may no longer read', () => {
    /**
     * Starts an export far larger than the sockets' buffers and stops reading after its first
     * bytes, so the server is still writing it. Resolves with whether the answer arrived whole.
     */
    async function stalledExport(own: ApiApp, orgId: string, token: string) {
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        get(
          `${own.origin}/api/v1/orgs/${orgId}/export`,
          // Uncompressed, so that the rows fill the buffers rather than shrink into them.
          { headers: { authorization: `Bearer ${token}`, 'accept-encoding': 'identity' } },
          resolve,
        ).on('error', reject);
      });
      expect(res.statusCode).toBe(200);
      await new Promise((resolve) => res.once('data', resolve));
      res.pause();
      const whole = new Promise<boolean>((resolve) => {
        res.on('error', () => undefined);
        res.on('close', () => resolve(res.complete));
      });
      return { res, whole };
    }

    /**
     * Moves the API's clock one re-check interval on and waits until that round has asked the
     * directory for the session and then the membership: what it decides follows at once.
     */
    async function recheck(own: ApiApp) {
      let calls = 0;
      Object.defineProperty(own.faults, 'directory', {
        configurable: true,
        get: () => {
          calls += 1;
          return undefined;
        },
      });
      own.clock.advance(STREAM_LIMIT_DEFAULTS.recheckMs);
      await until(() => calls >= 2, 'a re-check round');
    }

    async function bigOrg(own: ApiApp) {
      const org = await own.org();
      const owner = await own.member(org.id, 'owner');
      const member = await own.member(org.id, 'member');
      const device = await own.device(org, 'Busy');
      const start = own.clock.now() - 200_000 * 1000;
      own.readings(
        device,
        Array.from({ length: 200_000 }, (_, i) => ({
          metric: 'counter',
          value: i,
          time: start + i * 1000,
        })),
      );
      return { org, owner, member };
    }

    /**
     * Starts an export on its own app, lets `during` act while it is stalled, lets one re-check
     * round decide, then reads it out: whether it arrived whole.
     */
    async function exportAfter(
      during: (own: ApiApp, people: Awaited<ReturnType<typeof bigOrg>>) => Promise<void>,
    ) {
      const own = await startApiApp();
      try {
        const people = await bigOrg(own);
        const { res, whole } = await stalledExport(own, people.org.id, people.member.token);
        await during(own, people);
        await recheck(own);
        res.resume();
        return await whole;
      } finally {
        await own.close();
      }
    }

    it('P9: logout cuts an export under way, so the file is known to be incomplete', async () => {
      const whole = await exportAfter(async (own, { member }) => {
        const answer = await own.request('POST', '/auth/logout', { token: member.token });
        expect(answer.status).toBe(204);
      });
      expect(whole).toBe(false);
    });

    it('P2: removal from the organisation cuts an export under way', async () => {
      const whole = await exportAfter(async (own, { org, owner, member }) => {
        const removed = await own.request('DELETE', `/orgs/${org.id}/members/${member.userId}`, {
          token: owner.token,
        });
        expect(removed.status).toBe(204);
      });
      expect(whole).toBe(false);
    });

    it('an export nobody revokes arrives whole, however many re-checks it outlasts', async () => {
      expect(await exportAfter(() => Promise.resolve())).toBe(true);
    });
  });
});
