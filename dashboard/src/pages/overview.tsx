import { useEffect, useState } from 'preact/hooks';
import {
  type AggregatePoint,
  type Answer,
  api,
  type DeviceDetails,
  type MetricEntry,
  type Organisation,
} from '../api';
import { formatAgo, formatValue } from '../format';
import { Sparkline } from '../sparkline';
import { Empty, ErrorNote, PageHead, Spinner, useLoad } from '../ui';

export function metricName(m: string, catalogue: Map<string, MetricEntry>): string {
  const name = catalogue.get(m)?.label ?? m.replace(/_/g, ' ');
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** One metric's latest value, an item of a `<dl class="values">`. */
export function LatestValue(props: {
  reading: { metric: string; value: number | boolean };
  catalogue: Map<string, MetricEntry>;
}) {
  const { metric, value } = props.reading;
  return (
    <div>
      <dt>{metricName(metric, props.catalogue)}</dt>
      <dd>{formatValue(value, props.catalogue.get(metric)?.unit)}</dd>
    </div>
  );
}

export function useCatalogue(orgId: string): Map<string, MetricEntry> {
  const [catalogue, setCatalogue] = useState(new Map<string, MetricEntry>());
  useEffect(() => {
    api<Answer<'/orgs/{orgId}/metrics', 'get'>>(`/orgs/${orgId}/metrics`).then(
      (r) => setCatalogue(new Map(r.metrics.map((m) => [m.metric, m]))),
      () => setCatalogue(new Map()),
    );
  }, [orgId]);
  return catalogue;
}

/** Every device's presence, latest values and a sparkline of its first metric over the last hour. */
export function OverviewPage({ org }: { org: Organisation }) {
  const catalogue = useCatalogue(org.id);
  const latest = useLoad(
    (signal) => api<Answer<'/orgs/{orgId}/latest', 'get'>>(`/orgs/${org.id}/latest`, { signal }),
    [org.id],
  );
  const [presence, setPresence] = useState(new Map<string, DeviceDetails>());
  const [sparks, setSparks] = useState(new Map<string, number[]>());

  // Latest values (one request) refresh every 10 s. Presence is one request per device and the
  // sparklines one per metric, so they refresh every 30 s, within the API's rate limits.
  const [slowTick, setSlowTick] = useState(0);
  useEffect(() => {
    const fast = setInterval(latest.reload, 10_000);
    const slow = setInterval(() => setSlowTick((t) => t + 1), 30_000);
    return () => {
      clearInterval(fast);
      clearInterval(slow);
    };
  }, [org.id]);

  const devices = latest.data?.devices ?? [];
  const key = devices
    .map((d) => `${d.id}:${d.readings.find((r) => typeof r.value === 'number')?.metric ?? ''}`)
    .join('|');
  useEffect(() => {
    if (devices.length === 0) return;
    const shown = devices.slice(0, 100);
    void Promise.allSettled(
      shown.map((d) =>
        api<Answer<'/orgs/{orgId}/devices/{deviceId}', 'get'>>(`/orgs/${org.id}/devices/${d.id}`),
      ),
    ).then((results) => {
      const next = new Map<string, DeviceDetails>();
      for (const r of results) if (r.status === 'fulfilled') next.set(r.value.id, r.value);
      setPresence(next);
    });
    // One request per metric, for up to 50 devices each: the first metric a device reports.
    const byMetric = new Map<string, string[]>();
    for (const d of shown) {
      const first = d.readings.find((r) => typeof r.value === 'number');
      if (first) byMetric.set(first.metric, [...(byMetric.get(first.metric) ?? []), d.id]);
    }
    const from = new Date(Date.now() - 3_600_000).toISOString();
    void Promise.allSettled(
      [...byMetric].flatMap(([metric, ids]) => {
        const chunks: string[][] = [];
        for (let i = 0; i < ids.length; i += 50) chunks.push(ids.slice(i, i + 50));
        return chunks.map((chunk) =>
          api<Answer<'/orgs/{orgId}/readings', 'get'>>(
            `/orgs/${org.id}/readings?devices=${chunk.join(',')}&metric=${metric}&window=1m&from=${encodeURIComponent(from)}`,
          ),
        );
      }),
    ).then((results) => {
      const next = new Map<string, number[]>();
      for (const r of results) {
        if (r.status !== 'fulfilled') continue;
        for (const s of r.value.devices) {
          next.set(
            s.id,
            (s.points as AggregatePoint[]).flatMap((p) => (p.mean === null ? [] : [p.mean])),
          );
        }
      }
      setSparks(next);
    });
  }, [org.id, key, slowTick]);

  const online = devices.filter((d) => presence.get(d.id)?.connected).length;
  const known = devices.filter((d) => presence.has(d.id)).length;
  return (
    <>
      <PageHead eyebrow={org.name} title="Overview">
        {devices.length > 0 && (
          <p class="summary" role="status">
            <span class="dot online" aria-hidden="true" /> {online} online
            <span class="sep" aria-hidden="true">
              ·
            </span>
            <span class="dot offline" aria-hidden="true" /> {known - online} offline
          </p>
        )}
      </PageHead>
      {latest.loading && !latest.data && <Spinner label="Loading devices…" />}
      <ErrorNote error={latest.error} />
      {latest.data && devices.length === 0 && (
        <Empty title="No devices yet.">
          Add a device on the <a href={`/orgs/${org.id}/admin`}>Admin</a> page; its readings show up
          here as soon as it publishes.
        </Empty>
      )}
      <ul class="cards devices">
        {devices.map((d) => {
          const p = presence.get(d.id);
          const spark = sparks.get(d.id);
          const first = d.readings.find((r) => typeof r.value === 'number');
          return (
            <li key={d.id} class="card device-card">
              <div class="card-head">
                <a class="card-link" href={`/orgs/${org.id}/devices/${encodeURIComponent(d.id)}`}>
                  {d.name}
                </a>
                <Presence device={p} disabled={d.status === 'disabled'} />
              </div>
              {d.readings.length === 0 ? (
                <p class="muted">No readings yet.</p>
              ) : (
                <dl class="values">
                  {d.readings.slice(0, 4).map((r) => (
                    <LatestValue key={r.metric} reading={r} catalogue={catalogue} />
                  ))}
                </dl>
              )}
              {first && (
                <Sparkline
                  values={spark ?? []}
                  label={`Recent ${metricName(first.metric, catalogue)} of ${d.name}`}
                />
              )}
              <p class="muted small">
                Last seen {formatAgo(p?.lastSeen ?? d.readings[0]?.time ?? null)}
              </p>
            </li>
          );
        })}
      </ul>
    </>
  );
}

export function Presence({
  device,
  disabled,
}: {
  device: DeviceDetails | undefined;
  disabled: boolean;
}) {
  if (disabled) return <span class="pill muted-pill">Disabled</span>;
  if (!device) return <span class="pill muted-pill">…</span>;
  return device.connected ? (
    <span class="pill online-pill">
      <span class="dot online" aria-hidden="true" /> Online
    </span>
  ) : (
    <span class="pill offline-pill">
      <span class="dot offline" aria-hidden="true" /> Offline
    </span>
  );
}
