import { useState } from 'preact/hooks';
import { type Answer, api, type Me, type Organisation } from '../../api';
import { ErrorNote, PageHead, useLoad } from '../../ui';
import { DevicesSection } from './devices-section';
import { InviteSection } from './invite-section';
import { MembersSection } from './members-section';
import { MetricsSection } from './metrics-section';
import { roleNames } from './roles';

export function AdminPage({ org, me }: { org: Organisation; me: Me }) {
  const manages = org.role === 'owner' || org.role === 'admin';
  // Loaded here rather than in its section: a sent invitation adds a member to the list.
  const members = useLoad(
    (signal) =>
      api<Answer<'/orgs/{orgId}/members', 'get'>>(`/orgs/${org.id}/members?limit=500`, {
        signal,
      }),
    [org.id],
  );
  const [notice, setNotice] = useState<string | null>(null);
  const [rowError, setRowError] = useState<unknown>(null);

  return (
    <>
      <PageHead eyebrow={org.name} title="Organisation admin" />
      {!manages && (
        <p class="note info">
          You are a {roleNames[org.role].toLowerCase()} here: you can see the members, and owners
          and admins manage the organisation.
        </p>
      )}
      {notice && (
        <p class="note success" role="status">
          {notice}
        </p>
      )}
      <ErrorNote error={rowError} />

      <MembersSection
        org={org}
        me={me}
        manages={manages}
        members={members}
        onNotice={setNotice}
        onError={setRowError}
      />

      {manages && (
        <InviteSection
          org={org}
          onInvited={(text) => {
            setNotice(text);
            members.reload();
          }}
        />
      )}

      <DevicesSection org={org} manages={manages} onNotice={setNotice} onError={setRowError} />

      {manages && <MetricsSection orgId={org.id} />}
    </>
  );
}
