/* global document, location */
// The page lives at /ext-ui/<extensionId>/<contentHash>/index.html on the runner; the extension's
// handler answers at /api/ext/<extensionId>/<route> on the same origin (the dev gateway).
const extensionId = decodeURIComponent(location.pathname.split('/')[2] ?? '');
const api = (route) => `/api/ext/${encodeURIComponent(extensionId)}${route}`;

const result = document.getElementById('result');
const clientList = document.getElementById('client-list');

function show(state, text) {
  result.dataset.state = state;
  result.textContent = text;
}

async function call(route) {
  const response = await fetch(api(route), { headers: { accept: 'application/json' } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error?.message ?? body.error ?? `HTTP ${response.status}`);
  return body;
}

async function run(button, action) {
  button.disabled = true;
  show('loading', 'Asking the extension…');
  try {
    await action();
  } catch (error) {
    show('error', `Something went wrong: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

document.getElementById('hello').addEventListener('click', (event) =>
  run(event.currentTarget, async () => {
    const answer = await call('/hello');
    const visits = answer.visits === null ? '' : ` (visit #${answer.visits})`;
    show('done', `${answer.message}${visits}`);
  }),
);

document.getElementById('clients').addEventListener('click', (event) =>
  run(event.currentTarget, async () => {
    const answer = await call('/clients');
    clientList.replaceChildren(
      ...answer.clients.map((client) => {
        const item = document.createElement('li');
        item.textContent = client.name;
        return item;
      }),
    );
    show('done', `${answer.total} client${answer.total === 1 ? '' : 's'} found.`);
  }),
);
