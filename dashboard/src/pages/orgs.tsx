import { useState } from 'preact/hooks';
import { type Answer, api, type Body, type Me } from '../api';
import { navigate } from '../router';
import { Empty, ErrorNote, Field, useSubmit } from '../ui';

const roleNames = { owner: 'Owner', admin: 'Admin', member: 'Member', viewer: 'Viewer' };

export function OrgsPage({ me, onCreated }: { me: Me; onCreated: () => Promise<void> }) {
  const [name, setName] = useState('');
  const { busy, error, onSubmit } = useSubmit();
  return (
    <>
      <h1>Your organisations</h1>
      {me.organisations.length === 0 ? (
        <Empty title="You are not a member of any organisation yet.">
          Create one below, or ask someone to invite you.
        </Empty>
      ) : (
        <ul class="cards orgs">
          {me.organisations.map((o) => (
            <li key={o.id} class="card">
              <a class="card-link" href={`/orgs/${o.id}`}>
                {o.name}
              </a>
              <span class="muted">{roleNames[o.role]}</span>
            </li>
          ))}
        </ul>
      )}
      <section class="panel narrow" aria-labelledby="create-org">
        <h2 id="create-org">Create an organisation</h2>
        <form
          onSubmit={onSubmit(async () => {
            const org = await api<Answer<'/orgs', 'post'>>('/orgs', {
              method: 'POST',
              body: { name } satisfies Body<'/orgs', 'post'>,
            });
            await onCreated();
            setName('');
            navigate(`/orgs/${org.id}`);
          })}
        >
          <Field label="Organisation name" required value={name} onInput={setName} />
          <ErrorNote error={error} />
          <button type="submit" class="primary" disabled={busy}>
            Create organisation
          </button>
        </form>
      </section>
    </>
  );
}
