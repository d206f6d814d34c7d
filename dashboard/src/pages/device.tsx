import { useEffect, useMemo, useState } from 'preact/hooks';
import {
  type AggregatePoint,
  type Answer,
  api,
  messageOf,
  type Organisation,
  type RawPoint,
  request,
} from '../api';
import { Chart, type ChartData } from '../chart';
import { formatAgo, formatDateTime, timeZone, toLocalInput } from '../format';
import { subscribeLive } from '../live';
import { Checkbox, Empty, ErrorNote, Spinner, useLoad } from '../ui';
import { LatestValue, metricName, Presence, useCatalogue } from './overview';

const HOUR = 3_600_000;
const presets = [
  { id: '1h', label: '1 h', ms: HOUR },
  { id: '24h', label: '24 h', ms: 24 * HOUR },
  { id: '7d', label: '7 d', ms: 7 * 24 * HOUR },
  { id: '30d', label: '30 d', ms: 30 * 24 * HOUR },
] as const;
type PresetId = (typeof presets)[number]['id'] | 'custom';
const rangeEnds = [
  { end: 'from', label: 'From' },
  { end: 'to', label: 'To' },
] as const;

/** Raw readings for short ranges, then 1-minute, 1-hour and 1-day aggregates. */
function windowFor(spanMs: number): 'raw' | '1m' | '1h' | '1d' {
  if (spanMs <= 2 * HOUR) return 'raw';
  if (spanMs <= 3 * 24 * HOUR) return '1m';
  if (spanMs <= 90 * 24 * HOUR) return '1h';
  return '1d';
}

function toChart(points: (AggregatePoint | RawPoint)[], window: string): ChartData {
  if (window === 'raw') {
    const raw = (points as RawPoint[]).slice().reverse(); // newest first from the API
    return {
      times: raw.map((p) => Date.parse(p.time) / 1000),
      values: raw.map((p) => (typeof p.value === 'boolean' ? (p.value ? 1 : 0) : p.value)),
    };
  }
  const agg = points as AggregatePoint[];
  return {
    times: agg.map((p) => Date.parse(p.time) / 1000),
    values: agg.map((p) => p.mean),
    min: agg.map((p) => p.min),
    max: agg.map((p) => p.max),
  };
}

export function DevicePage({ org, deviceId }: { org: Organisation; deviceId: string }) {
  const catalogue = useCatalogue(org.id);
  const device = useLoad(
    (signal) =>
      api<Answer<'/orgs/{orgId}/devices/{deviceId}', 'get'>>(
        `/orgs/${org.id}/devices/${encodeURIComponent(deviceId)}`,
        { signal },
      ),
    [org.id, deviceId],
  );
  const latest = useLoad(
    (signal) => api<Answer<'/orgs/{orgId}/latest', 'get'>>(`/orgs/${org.id}/latest`, { signal }),
    [org.id, deviceId],
  );
  const [preset, setPreset] = useState<PresetId>('24h');
  const [custom, setCustom] = useState(() => ({
    from: toLocalInput(Date.now() - 24 * HOUR),
    to: toLocalInput(Date.now()),
  }));
  const [applied, setApplied] = useState(custom);
  const [live, setLive] = useState(true);
  const [liveState, setLiveState] = useState('connecting');
  const [series, setSeries] = useState(new Map<string, ChartData>());
  const [seriesError, setSeriesError] = useState<unknown>(null);
  const [loadingSeries, setLoadingSeries] = useState(true);
  const [csvError, setCsvError] = useState<string | null>(null);

  // Values that arrived on the live stream since the page loaded override the loaded ones.
  const [liveValues, setLiveValues] = useState(new Map<string, number | boolean>());
  useEffect(() => setLiveValues(new Map()), [deviceId]);
  const loaded = latest.data?.devices.find((d) => d.id === deviceId)?.readings ?? [];
  const readings = loaded.map((r) =>
    liveValues.has(r.metric) ? { ...r, value: liveValues.get(r.metric)! } : r,
  );
  const metrics = loaded.filter((r) => typeof r.value === 'number').map((r) => r.metric);
  const metricsKey = metrics.join(',');

  const range = useMemo(() => {
    if (preset === 'custom')
      return { from: new Date(applied.from).getTime(), to: new Date(applied.to).getTime() };
    const p = presets.find((x) => x.id === preset)!;
    const to = Date.now();
    return { from: to - p.ms, to };
  }, [preset, applied]);

  useEffect(() => {
    if (!metricsKey) {
      setLoadingSeries(false);
      return;
    }
    const controller = new AbortController();
    const w = windowFor(range.to - range.from);
    setLoadingSeries(true);
    setSeriesError(null);
    const from = new Date(range.from).toISOString();
    const to = new Date(range.to).toISOString();
    void Promise.all(
      metricsKey
        .split(',')
        .map((m) =>
          api<Answer<'/orgs/{orgId}/readings', 'get'>>(
            `/orgs/${org.id}/readings?devices=${encodeURIComponent(deviceId)}&metric=${m}&window=${w}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&limit=10000`,
            { signal: controller.signal },
          ).then((answer) => [m, toChart(answer.devices[0]?.points ?? [], w)] as const),
        ),
    ).then(
      (entries) => {
        setSeries(new Map(entries));
        setLoadingSeries(false);
      },
      (err: unknown) => {
        if (controller.signal.aborted) return;
        setSeriesError(err);
        setLoadingSeries(false);
      },
    );
    return () => controller.abort();
  }, [org.id, deviceId, metricsKey, range]);

  // Live readings extend the charts while the range ends now.
  const following = live && preset !== 'custom';
  useEffect(() => {
    if (!following) return;
    return subscribeLive(
      org.id,
      [deviceId],
      (r) => {
        if (r.deviceId !== deviceId) return;
        setLiveValues((current) => new Map(current).set(r.metric, r.value));
        if (typeof r.value !== 'number') return;
        const value = r.value;
        setSeries((current) => {
          const data = current.get(r.metric);
          if (!data) return current;
          const t = Date.parse(r.time) / 1000;
          const next = new Map(current);
          next.set(r.metric, {
            times: [...data.times, t],
            values: [...data.values, value],
            ...(data.min ? { min: [...data.min, value] } : {}),
            ...(data.max ? { max: [...data.max, value] } : {}),
          });
          return next;
        });
      },
      setLiveState,
    );
  }, [org.id, deviceId, following]);

  async function downloadCsv() {
    setCsvError(null);
    try {
      const from = new Date(range.from).toISOString();
      // While the chart follows live readings, the download includes them too.
      const to = new Date(following ? Date.now() : range.to).toISOString();
      const response = await request(
        `/orgs/${org.id}/export?format=csv&devices=${encodeURIComponent(deviceId)}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
      );
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `${deviceId}-${from.slice(0, 10)}.csv`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setCsvError(messageOf(err));
    }
  }

  if (device.loading && !device.data) return <Spinner label="Loading device…" />;
  if (device.error || !device.data) {
    return (
      <>
        <h1>Device</h1>
        <ErrorNote error={device.error} />
        <p>
          <a href={`/orgs/${org.id}`}>Back to the overview</a>
        </p>
      </>
    );
  }
  const d = device.data;
  const window = windowFor(range.to - range.from);
  return (
    <>
      <p class="crumbs">
        <a href={`/orgs/${org.id}`}>Overview</a> <span aria-hidden="true">/</span>
      </p>
      <div class="page-head">
        <div>
          <h1>{d.name}</h1>
          <p class="muted">
            <code>{d.id}</code> · last seen {formatAgo(d.lastSeen)}
          </p>
        </div>
        <Presence device={d} disabled={d.status === 'disabled'} />
      </div>

      {readings.length > 0 && (
        <dl class="values big" aria-label="Latest values">
          {readings.map((r) => (
            <LatestValue key={r.metric} reading={r} catalogue={catalogue} />
          ))}
        </dl>
      )}

      <div class="toolbar">
        <fieldset class="segmented">
          <legend>Time range</legend>
          {[...presets, { id: 'custom' as const, label: 'Custom' }].map((p) => (
            <label key={p.id} class={preset === p.id ? 'on' : undefined}>
              <input
                type="radio"
                name="range"
                value={p.id}
                checked={preset === p.id}
                onChange={() => setPreset(p.id)}
              />
              {p.label}
            </label>
          ))}
        </fieldset>
        <div class="toolbar-right">
          {preset !== 'custom' && (
            <Checkbox label="Live updates" checked={live} onChange={setLive} />
          )}
          {following && (
            <span class={`live-state ${liveState}`} role="status">
              {liveState === 'live'
                ? 'Live'
                : liveState === 'retrying'
                  ? 'Reconnecting…'
                  : 'Connecting…'}
            </span>
          )}
          <button type="button" class="secondary" onClick={() => void downloadCsv()}>
            Download CSV
          </button>
        </div>
      </div>
      {preset === 'custom' && (
        <form
          class="custom-range"
          onSubmit={(e) => {
            e.preventDefault();
            setApplied(custom);
          }}
        >
          {rangeEnds.map(({ end, label }) => (
            <div key={end} class="field">
              <label for={`range-${end}`}>{label}</label>
              <input
                id={`range-${end}`}
                type="datetime-local"
                required
                value={custom[end]}
                onInput={(e) => setCustom({ ...custom, [end]: e.currentTarget.value })}
              />
            </div>
          ))}
          <button type="submit" class="primary">
            Apply range
          </button>
        </form>
      )}
      {csvError && (
        <p class="note error" role="alert">
          {csvError}
        </p>
      )}
      <p class="muted small">
        {formatDateTime(range.from)} – {formatDateTime(range.to)} ({timeZone}) ·{' '}
        {window === 'raw'
          ? 'every reading'
          : `${window === '1m' ? 'per minute' : window === '1h' ? 'per hour' : 'per day'}: mean line, min–max band`}
      </p>
      <ErrorNote error={seriesError ?? latest.error} />
      {latest.data && metrics.length === 0 && (
        <Empty title="No readings yet.">
          Once this device publishes, a chart per metric appears here.
        </Empty>
      )}
      <div class={`charts${loadingSeries ? ' busy' : ''}`} aria-busy={loadingSeries}>
        {metrics.map((m) => {
          const unit = catalogue.get(m)?.unit ?? '';
          const data = series.get(m);
          return (
            <figure
              key={m}
              class="panel chart-panel"
              data-metric={m}
              data-points={data?.times.length ?? 0}
            >
              <figcaption>
                {metricName(m, catalogue)}
                {unit && <span class="muted"> ({unit})</span>}
              </figcaption>
              {data ? (
                data.times.length ? (
                  <Chart data={data} unit={unit} label={metricName(m, catalogue)} />
                ) : (
                  <p class="chart-empty muted">No readings in this range.</p>
                )
              ) : (
                <div class="chart-placeholder" />
              )}
            </figure>
          );
        })}
      </div>
    </>
  );
}
