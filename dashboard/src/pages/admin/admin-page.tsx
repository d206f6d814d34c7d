import { useState } from 'preact/hooks';
import type { Me, Organisation } from '../../api';
import { ErrorNote, PageHead } from '../../ui';
import { DevicesSection } from './devices-section';
import { InvitationsSection } from './invitations-section';
import { InviteSection } from './invite-section';
import { MembersSection } from './members-section';
import { MetricsSection } from './metrics-section';
import { roleNames } from './roles';

export function AdminPage({ org, me }: { org: Organisation; me: Me }) {
  const manages = org.role === 'owner' || org.role === 'admin';
  // Each invitation sent adds one to the pending list, which then loads again.
  const [sent, setSent] = useState(0);
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
        onNotice={setNotice}
        onError={setRowError}
      />

      {manages && (
        <InviteSection
          org={org}
          onInvited={(text) => {
            setNotice(text);
            setSent((n) => n + 1);
          }}
        />
      )}

      {manages && <InvitationsSection org={org} sent={sent} onNotice={setNotice} />}

      <DevicesSection org={org} manages={manages} onNotice={setNotice} onError={setRowError} />

      {manages && <MetricsSection orgId={org.id} />}
    </>
  );
}
