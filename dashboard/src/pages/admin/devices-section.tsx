import { useState } from 'preact/hooks';
import {
  type Answer,
  api,
  type Body,
  type DeviceSummary,
  type Organisation,
  type SecretAnswer,
} from '../../api';
import { Confirm, Empty, ErrorNote, Field, RowButton, Spinner, useLoad, useSubmit } from '../../ui';
import { DeviceSecretDialog } from './device-secret-dialog';

type Pending = { kind: 'delete' | 'disable' | 'rotate'; device: DeviceSummary };

export function DevicesSection(props: {
  org: Organisation;
  manages: boolean;
  onNotice: (text: string) => void;
  onError: (error: unknown) => void;
}) {
  const { org, manages, onNotice, onError } = props;
  const [pending, setPending] = useState<Pending | null>(null);
  const [secret, setSecret] = useState<SecretAnswer | null>(null);
  const devices = useLoad(
    (signal) =>
      api<Answer<'/orgs/{orgId}/devices', 'get'>>(`/orgs/${org.id}/devices?limit=500`, {
        signal,
      }),
    [org.id],
  );
  return (
    <>
      <section class="panel" aria-labelledby="devices-title">
        <h2 id="devices-title">Devices</h2>
        {manages && (
          <AddDevice
            orgId={org.id}
            onAdded={(answer) => {
              setSecret(answer);
              devices.reload();
            }}
          />
        )}
        {devices.loading && !devices.data && <Spinner label="Loading devices…" />}
        <ErrorNote error={devices.error} />
        {devices.data && devices.data.devices.length === 0 && (
          <Empty title="No devices yet.">Add one above; you get its secret once.</Empty>
        )}
        {devices.data && devices.data.devices.length > 0 && (
          <ul class="rows">
            {devices.data.devices.map((d) => (
              <li key={d.id} class="row">
                <div class="row-main">
                  <a href={`/orgs/${org.id}/devices/${encodeURIComponent(d.id)}`}>{d.name}</a>
                  <code class="muted small">{d.id}</code>
                  {d.status === 'disabled' && <span class="pill muted-pill">Disabled</span>}
                </div>
                {manages && (
                  <div class="row-actions">
                    <RowButton
                      label="Rotate secret"
                      sr={`of ${d.name}`}
                      onClick={() => setPending({ kind: 'rotate', device: d })}
                    />
                    {d.status === 'active' ? (
                      <RowButton
                        label="Disable"
                        sr={d.name}
                        onClick={() => setPending({ kind: 'disable', device: d })}
                      />
                    ) : (
                      <RowButton
                        label="Enable"
                        sr={d.name}
                        onClick={() => {
                          onError(null);
                          api(`/orgs/${org.id}/devices/${encodeURIComponent(d.id)}/enable`, {
                            method: 'POST',
                          }).then(() => {
                            onNotice(`${d.name} is enabled.`);
                            devices.reload();
                          }, onError);
                        }}
                      />
                    )}
                    <RowButton
                      label="Delete"
                      sr={d.name}
                      danger
                      onClick={() => setPending({ kind: 'delete', device: d })}
                    />
                  </div>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>

      {pending?.kind === 'delete' && (
        <Confirm
          title={`Delete ${pending.device.name}?`}
          body={
            <p>The device can no longer connect, and its name is deleted. This cannot be undone.</p>
          }
          action="Delete device"
          danger
          onClose={() => setPending(null)}
          onConfirm={async () => {
            await api(`/orgs/${org.id}/devices/${encodeURIComponent(pending.device.id)}`, {
              method: 'DELETE',
            });
            onNotice(`${pending.device.name} was deleted.`);
            devices.mutate((d) => ({
              ...d,
              devices: d.devices.filter((x) => x.id !== pending.device.id),
            }));
            devices.reload();
          }}
        />
      )}
      {pending?.kind === 'disable' && (
        <Confirm
          title={`Disable ${pending.device.name}?`}
          body={<p>It is disconnected within seconds and cannot publish until you enable it.</p>}
          action="Disable device"
          danger
          onClose={() => setPending(null)}
          onConfirm={async () => {
            await api(`/orgs/${org.id}/devices/${encodeURIComponent(pending.device.id)}/disable`, {
              method: 'POST',
            });
            onNotice(`${pending.device.name} is disabled.`);
            devices.reload();
          }}
        />
      )}
      {pending?.kind === 'rotate' && (
        <Confirm
          title={`Rotate the secret of ${pending.device.name}?`}
          body={
            <p>
              The old secret stops working at once and the device is disconnected until it uses the
              new one.
            </p>
          }
          action="Rotate secret"
          danger
          onClose={() => setPending(null)}
          onConfirm={async () => {
            const answer = await api<
              Answer<'/orgs/{orgId}/devices/{deviceId}/rotate-secret', 'post'>
            >(`/orgs/${org.id}/devices/${encodeURIComponent(pending.device.id)}/rotate-secret`, {
              method: 'POST',
            });
            setSecret(answer);
          }}
        />
      )}
      {secret && <DeviceSecretDialog answer={secret} onClose={() => setSecret(null)} />}
    </>
  );
}

function AddDevice({ orgId, onAdded }: { orgId: string; onAdded: (a: SecretAnswer) => void }) {
  const [name, setName] = useState('');
  const { busy, error, onSubmit } = useSubmit();
  return (
    <>
      <form
        class="inline-form"
        onSubmit={onSubmit(async () => {
          const answer = await api<Answer<'/orgs/{orgId}/devices', 'post'>>(
            `/orgs/${orgId}/devices`,
            {
              method: 'POST',
              body: { name } satisfies Body<'/orgs/{orgId}/devices', 'post'>,
            },
          );
          setName('');
          onAdded(answer);
        })}
      >
        <Field label="Device name" autocomplete="off" required value={name} onInput={setName} />
        <button type="submit" class="primary" disabled={busy}>
          Add device
        </button>
      </form>
      <ErrorNote error={error} />
    </>
  );
}
