/* global document, location */
// The page is served at /ext-ui/<extensionId>/<contentHash>/index.html; the extension's handler
// answers on the same origin at /api/ext/<extensionId>/<route>.
const extensionId = decodeURIComponent(location.pathname.split('/')[2] ?? '');
const api = (route) => `/api/ext/${encodeURIComponent(extensionId)}${route}`;

const statusLine = document.getElementById('status');
const list = document.getElementById('notes');

async function call(route, init = {}) {
  const response = await fetch(api(route), { ...init, headers: { accept: 'application/json', ...(init.body ? { 'content-type': 'application/json' } : {}) } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message ?? body.error ?? `HTTP ${response.status}`);
  return body;
}

async function refresh() {
  const { notes } = await call('/notes');
  list.replaceChildren(
    ...notes.map((note) => {
      const item = document.createElement('li');
      item.textContent = note.text;
      return item;
    }),
  );
}

document.getElementById('new-note').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = document.getElementById('text');
  try {
    await call('/notes', { method: 'POST', body: JSON.stringify({ text: input.value }) });
    input.value = '';
    statusLine.textContent = 'Saved.';
    await refresh();
  } catch (error) {
    statusLine.textContent = `Could not save: ${error.message}`;
  }
});

call('/hello')
  .then((answer) => {
    document.getElementById('greeting').textContent = answer.message;
    return refresh();
  })
  .catch((error) => {
    statusLine.textContent = `The extension did not answer: ${error.message}`;
  });
