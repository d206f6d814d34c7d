import { useState } from 'preact/hooks';
import { type Answer, api, type Body, type MetricEntry } from '../../api';
import { Empty, ErrorNote, Spinner, Sr, useLoad, useSubmit } from '../../ui';

/** The metric catalogue: the unit and label every member sees next to a metric's values. */
export function MetricsSection({ orgId }: { orgId: string }) {
  const catalogue = useLoad(
    (signal) => api<Answer<'/orgs/{orgId}/metrics', 'get'>>(`/orgs/${orgId}/metrics`, { signal }),
    [orgId],
  );
  return (
    <section class="panel" aria-labelledby="metrics-title">
      <h2 id="metrics-title">Metrics</h2>
      <p class="muted">Units and labels shown with every value of a metric.</p>
      {catalogue.loading && !catalogue.data && <Spinner label="Loading metrics…" />}
      <ErrorNote error={catalogue.error} />
      {catalogue.data && catalogue.data.metrics.length === 0 && (
        <Empty title="No metrics yet.">They appear once a device reports readings.</Empty>
      )}
      {catalogue.data && catalogue.data.metrics.length > 0 && (
        <ul class="rows">
          {catalogue.data.metrics.map((m) => (
            <MetricRow key={m.metric} orgId={orgId} entry={m} units={catalogue.data!.units} />
          ))}
        </ul>
      )}
    </section>
  );
}

// The catalogue's answer types units as plain strings; they are the ones this route accepts.
type Unit = Body<'/orgs/{orgId}/metrics/{metric}', 'put'>['unit'];

function MetricRow(props: { orgId: string; entry: MetricEntry; units: string[] }) {
  const { entry } = props;
  const [unit, setUnit] = useState((entry.unit ?? '') as Unit);
  const [label, setLabel] = useState(entry.label ?? entry.metric.replace(/_/g, ' '));
  const [saved, setSaved] = useState(false);
  const { busy, error, onSubmit } = useSubmit();
  const id = `metric-${entry.metric}`;
  return (
    <li class="row">
      <form
        class="metric-form"
        onSubmit={onSubmit(async () => {
          setSaved(false);
          await api(`/orgs/${props.orgId}/metrics/${entry.metric}`, {
            method: 'PUT',
            body: { unit, label } satisfies Body<'/orgs/{orgId}/metrics/{metric}', 'put'>,
          });
          setSaved(true);
        })}
      >
        <code class="metric-id">{entry.metric}</code>
        <div class="field">
          <label for={`${id}-label`}>Label of {entry.metric}</label>
          <input
            id={`${id}-label`}
            type="text"
            required
            maxLength={64}
            value={label}
            onInput={(e) => setLabel(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for={`${id}-unit`}>Unit of {entry.metric}</label>
          <select
            id={`${id}-unit`}
            value={unit}
            onChange={(e) => setUnit(e.currentTarget.value as Unit)}
          >
            {props.units.map((u) => (
              <option key={u} value={u}>
                {u === '' ? 'No unit' : u}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" class="secondary" disabled={busy}>
          Save<Sr> {entry.metric}</Sr>
        </button>
        <span class="saved" role="status">
          {saved ? 'Saved.' : ''}
        </span>
      </form>
      <ErrorNote error={error} />
    </li>
  );
}
