import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../influx/influx.client.js';
import { toLine } from '../../influx/line-protocol.js';
import { eventually } from '../support/mqtt-device.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { PATIENCE_MS } from '../support/wait.js';

interface Org {
  id: string;
  tenantKey: string;
}
interface Device {
  id: string;
  pseudonym: string;
}

// A full collection on demand, for measuring live memory (the API runs in this process).
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const BASE = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

describe('P19: an organisation exports its readings, streamed', () => {
  let platform: TestPlatform;
  let orgA: Org;
  let orgB: Org;
  let plain: Device;
  let formula: Device;
  let quoted: Device;
  let foreign: Device;
  let memberToken: string;
  let viewerToken: string;
  let outsiderToken: string;
  /** The organisation with a million readings, and its member's token. */
  let big: { orgId: string; token: string } | undefined;
  // "now" for the readings: inside the raw retention whenever the test runs.
  const t0 = Date.now() - 3_600_000;

  const exportUrl = (orgId: string, query = '') =>
    `${platform.apiUrl}/api/v1/orgs/${orgId}/export${query}`;
  const download = (url: string, token: string) =>
    fetch(url, { headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    platform = await startTestPlatform();
    orgA = await platform.createOrg('Export Co');
    orgB = await platform.createOrg('Other Co');
    plain = await platform.provisionDevice(orgA.id, 'North bay sensor');
    formula = await platform.provisionDevice(orgA.id, '=HYPERLINK("x")');
    quoted = await platform.provisionDevice(orgA.id, 'Shed 3, "big" one');
    foreign = await platform.provisionDevice(orgB.id, 'Foreign sensor');
    const member = await platform.createMember(orgA.id, 'member');
    const viewer = await platform.createMember(orgA.id, 'viewer');
    const outsider = await platform.createMember(orgB.id, 'owner');
    [memberToken, viewerToken, outsiderToken] = await Promise.all([
      platform.login(member.email, member.password),
      platform.login(viewer.email, viewer.password),
      platform.login(outsider.email, outsider.password),
    ]);
    const points = [
      { org: orgA, device: plain, metric: 'temperature', value: 21.5, time: t0 },
      { org: orgA, device: formula, metric: 'temperature', value: -3, time: t0 + 1000 },
      { org: orgA, device: quoted, metric: 'door_open', value: true, time: t0 + 2000 },
      { org: orgA, device: plain, metric: 'humidity', value: 40.25, time: t0 + 3000 },
      { org: orgB, device: foreign, metric: 'temperature', value: 99, time: t0 + 1500 },
    ];
    await platform.influxAdmin.write(
      platform.influxDatabase,
      points
        .map((p) =>
          toLine({
            tenantKey: p.org.tenantKey,
            deviceKey: p.device.pseudonym,
            metric: p.metric,
            value: p.value,
            time: p.time,
          }),
        )
        .join('\n'),
    );
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('P19: a member downloads CSV, escaped and safe from spreadsheet formulas', async () => {
    const response = await download(exportUrl(orgA.id, '?format=csv'), memberToken);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(response.headers.get('content-disposition')).toMatch(
      /^attachment; filename="telemoat-readings-\d{4}-\d{2}-\d{2}\.csv"$/,
    );
    const text = await response.text();
    expect(text).toBe(
      [
        'time,device_id,device_name,metric,value',
        `${iso(t0)},${plain.id},North bay sensor,temperature,21.5`,
        `${iso(t0 + 1000)},${formula.id},"'=HYPERLINK(""x"")",temperature,-3`,
        `${iso(t0 + 2000)},${quoted.id},"Shed 3, ""big"" one",door_open,true`,
        `${iso(t0 + 3000)},${plain.id},North bay sensor,humidity,40.25`,
        '',
      ].join('\r\n'),
    );
    // Pseudonyms stay inside; another organisation's reading is not there.
    for (const hidden of [plain.pseudonym, orgA.tenantKey, foreign.id, ',99\r\n']) {
      expect(text).not.toContain(hidden);
    }
  });

  it('P19: NDJSON carries the same readings, one JSON object a line', async () => {
    const response = await download(exportUrl(orgA.id, '?format=ndjson'), memberToken);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(response.headers.get('content-disposition')).toMatch(/^attachment;.*\.ndjson"$/);
    const lines = (await response.text()).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual([
      {
        time: iso(t0),
        deviceId: plain.id,
        deviceName: 'North bay sensor',
        metric: 'temperature',
        value: 21.5,
      },
      {
        time: iso(t0 + 1000),
        deviceId: formula.id,
        deviceName: '=HYPERLINK("x")',
        metric: 'temperature',
        value: -3,
      },
      {
        time: iso(t0 + 2000),
        deviceId: quoted.id,
        deviceName: 'Shed 3, "big" one',
        metric: 'door_open',
        value: true,
      },
      {
        time: iso(t0 + 3000),
        deviceId: plain.id,
        deviceName: 'North bay sensor',
        metric: 'humidity',
        value: 40.25,
      },
    ]);
  });

  it('narrows the export to chosen devices and a time range', async () => {
    const query = `?format=ndjson&devices=${plain.id},${quoted.id}&from=${iso(t0 + 500)}&to=${iso(t0 + 3000)}`;
    const response = await download(exportUrl(orgA.id, query), memberToken);
    const rows = (await response.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { deviceId: string; time: string });
    expect(rows.map((r) => [r.deviceId, r.time])).toEqual([[quoted.id, iso(t0 + 2000)]]);

    const empty = await download(exportUrl(orgA.id, `?to=${iso(BASE)}`), memberToken);
    expect(await empty.text()).toBe('time,device_id,device_name,metric,value\r\n');
  });

  it('P19: refuses viewers (403), outsiders (404) and devices of other organisations (404)', async () => {
    const viewer = await download(exportUrl(orgA.id), viewerToken);
    expect(viewer.status).toBe(403);
    expect(await viewer.json()).toMatchObject({ code: 'FORBIDDEN' });
    const outsider = await download(exportUrl(orgA.id), outsiderToken);
    expect(outsider.status).toBe(404);
    expect(await outsider.json()).toMatchObject({ code: 'NOT_FOUND' });
    const foreignDevice = await download(exportUrl(orgA.id, `?devices=${foreign.id}`), memberToken);
    expect(foreignDevice.status).toBe(404);
    const bad = await download(exportUrl(orgA.id, '?format=xlsx'), memberToken);
    expect(bad.status).toBe(400);
    expect((await fetch(exportUrl(orgA.id))).status).toBe(401);
  });

  it('P19: exports 1,000,000 readings completely while the API heap stays flat', async () => {
    const org = await platform.createOrg('Big Fleet Co');
    const devices = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => platform.provisionDevice(org.id, `Big fleet sensor ${n}`)),
    );
    const member = await platform.createMember(org.id, 'member');
    const token = await platform.login(member.email, member.password);
    big = { orgId: org.id, token };

    // Straight into InfluxDB as ingest would write them: 10 series of 100,000 readings, 50 ms
    // apart, in gzip batches of 50,000 lines, four requests at a time.
    const total = 1_000_000;
    const batch = 50_000;
    const start = Date.now() - 2 * 3_600_000;
    let next = 0;
    const writer = async () => {
      for (let first = next; first < total; first = next) {
        next += batch;
        const lines: string[] = [];
        for (let i = first; i < first + batch; i++) {
          lines.push(
            toLine({
              tenantKey: org.tenantKey,
              deviceKey: devices[i % 5]!.pseudonym,
              metric: i % 10 < 5 ? 'temperature' : 'humidity',
              value: (i % 1000) / 10,
              time: start + Math.floor(i / 10) * 50,
            }),
          );
        }
        await platform.influxAdmin.write(platform.influxDatabase, lines.join('\n'), {
          gzip: true,
        });
      }
    };
    await Promise.all([writer(), writer(), writer(), writer()]);

    // Live memory, sampled after a full collection: what buffering would hold on to. (Without
    // it, heapUsed also counts garbage V8 has not collected yet, which proves nothing.)
    const live = () => {
      collectGarbage();
      const { heapUsed, external, rss } = process.memoryUsage();
      return { heapUsed, external, rss };
    };
    const before = live();
    const peak = { ...before };
    const sample = () => {
      const now = live();
      peak.heapUsed = Math.max(peak.heapUsed, now.heapUsed);
      peak.external = Math.max(peak.external, now.external);
      peak.rss = Math.max(peak.rss, now.rss);
    };
    const sampler = setInterval(sample, 200);
    let bytes = 0;
    let lines = 0;
    try {
      // Uncompressed, so that kernel socket buffers cannot hide a missing backpressure.
      const response = await fetch(exportUrl(org.id, '?format=csv'), {
        headers: { authorization: `Bearer ${token}`, 'accept-encoding': 'identity' },
      });
      expect(response.status).toBe(200);
      // Read as a stream and count: the download is never held whole. A pause after the first
      // chunk is a slow client: the API must wait for it rather than queue the rest in memory.
      // What is checked is that memory did NOT grow during the pause, which no event marks, so
      // the pause is a fixed time; a slower machine only buffers less of a broken route in it,
      // so it can make this test miss a regression but never fail a correct route.
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        if (bytes === 0) await new Promise((resolve) => setTimeout(resolve, 4000));
        bytes += chunk.byteLength;
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
      }
    } finally {
      clearInterval(sampler);
    }
    expect(lines).toBe(total + 1);
    expect(bytes).toBeGreaterThan(40 * 1024 * 1024);
    // Buffering the answer anywhere in this process (the API's heap, a socket's queue, the
    // client) would hold tens of megabytes after the pause; streaming holds a few chunks (it
    // measures under 2 MB alone and up to 20 MB beside other test files on two busy cores, and
    // over 50 MB when the route ignores backpressure).
    const MB = 1024 * 1024;
    expect(peak.heapUsed - before.heapUsed).toBeLessThan(32 * MB);
    expect(peak.external - before.external).toBeLessThan(32 * MB);
    expect(peak.rss - before.rss).toBeLessThan(64 * MB);
  }, 120_000);

  it('stops the query at InfluxDB when the client goes away mid-download', async () => {
    if (!big) throw new Error('needs the million readings of the test before');
    const selects = async () =>
      (await platform.influxAdmin.query('SHOW QUERIES'))
        .flatMap(rowsOf)
        // Continuous queries (SELECT … INTO) run on their own schedule; only the export counts.
        .filter(
          (q) =>
            q.database === platform.influxDatabase &&
            /^SELECT/.test(String(q.query)) &&
            !/\bINTO\b/.test(String(q.query)),
        );
    const abort = new AbortController();
    const response = await fetch(exportUrl(big.orgId, '?format=ndjson'), {
      headers: { authorization: `Bearer ${big.token}`, 'accept-encoding': 'identity' },
      signal: abort.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    // The client reads no further: backpressure holds the query open at InfluxDB... That the
    // query did NOT run to its end can only be seen by waiting; a slower machine gets less of
    // a million rows done in the wait, so it can only make this pass, never fail.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await selects()).toHaveLength(1);
    // ...until the client leaves, which ends it.
    abort.abort();
    const running = await eventually(PATIENCE_MS, selects, (list) => list.length === 0);
    expect(running).toEqual([]);
  });
});
