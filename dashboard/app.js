// Placeholder dashboard: signs in, then shows each device's latest reading per metric.
// Everything user-controlled is set with textContent, never as HTML.
let token = null;

const $ = (id) => document.getElementById(id);

async function api(path, options = {}) {
  const response = await fetch(`/api/v1${path}`, {
    ...options,
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.message ?? `HTTP ${response.status}`);
  return body;
}

function cell(tag, text) {
  const element = document.createElement(tag);
  element.textContent = text;
  return element;
}

function latestPerMetric(readings) {
  const latest = new Map();
  for (const reading of readings)
    if (!latest.has(reading.metric)) latest.set(reading.metric, reading);
  return [...latest.values()].sort((a, b) => a.metric.localeCompare(b.metric));
}

async function render(org) {
  const { devices } = await api(`/orgs/${org.id}/devices`);
  const cards = await Promise.all(
    devices.map(async (device) => {
      const { readings } = await api(`/orgs/${org.id}/devices/${device.id}/readings?limit=200`);
      const card = document.createElement('article');
      card.className = 'device';
      card.append(cell('h3', device.name));
      const table = document.createElement('table');
      const head = document.createElement('tr');
      head.append(cell('th', 'Metric'), cell('th', 'Value'), cell('th', 'Time'));
      table.append(head);
      for (const reading of latestPerMetric(readings)) {
        const row = document.createElement('tr');
        row.append(
          cell('td', reading.metric),
          cell('td', String(reading.value)),
          cell('td', new Date(reading.time).toLocaleTimeString()),
        );
        table.append(row);
      }
      card.append(readings.length ? table : cell('p', 'No readings yet.'));
      return card;
    }),
  );
  $('devices').replaceChildren(...cards);
}

$('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('login-error').textContent = '';
  try {
    ({ accessToken: token } = await api('/auth/login', {
      method: 'POST',
      body: JSON.stringify({ email: $('email').value, password: $('password').value }),
    }));
    const me = await api('/me');
    const org = me.organisations[0];
    $('login').hidden = true;
    $('overview').hidden = false;
    if (!org) {
      $('org-name').textContent = 'You are not a member of any organisation yet.';
      return;
    }
    $('org-name').textContent = org.name;
    await render(org);
    setInterval(() => render(org).catch(() => {}), 3000);
  } catch (error) {
    $('login-error').textContent = error.message;
  }
});
