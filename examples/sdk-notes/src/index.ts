/**
 * A "ticket notes" extension written on the SDK (@alga-runner/sdk): its router, typed host results
 * and storage helpers. test/sdk/sdk-notes.test.ts runs it in the engine through the SDK's test
 * harness. Routes (JSON):
 *
 *   GET    /notes              every note, in key order (storage.allJson: the paging iterator)
 *   GET    /notes/:id          one note; 404 when missing
 *   PUT    /notes/:id          body {text}: writes it (400 without text, 400 when the body is not JSON)
 *   DELETE /notes/:id          204; 404 when missing
 *   POST   /notes/:id/likes    adds a like with the compare-and-swap loop (storage.update)
 *   GET    /clients/:id        the tenant's client (404 when none; 403 when client.read is not granted)
 *   GET    /weather?city=      an outbound call with the install's API_KEY secret (502 on an HTTP error)
 *   GET    /whoami             the request's context, no capability needed
 *   GET    /boom               throws: the router answers 500 and logs it
 *   GET    /alga/clients       an Alga-style (request, host) handler: async host calls that throw
 */
import { createApp, json, status, problem, storage, clients, secrets, http, log, fromAlgaHandler, jsonResponse } from '@alga-runner/sdk';

interface Note {
  text: string;
  likes: number;
}

const app = createApp();

app.get('/notes', () => {
  const all = storage.allJson<Note>('notes');
  if (!all.ok) return problem(500, all.error);
  return json({ notes: all.value.map((e) => ({ id: e.key, ...e.value, revision: e.revision })) });
});

app.get('/notes/:id', (req) => {
  const found = storage.getJson<Note>('notes', req.params.id);
  if (!found.ok) return found.error === 'missing' ? problem(404, 'note_not_found') : problem(500, found.error);
  return json({ id: req.params.id, ...found.value.value, revision: found.value.revision });
});

app.put('/notes/:id', (req) => {
  const body = req.json<{ text?: unknown }>();
  if (typeof body.text !== 'string' || body.text === '') return problem(400, 'text_required');
  const text = body.text;
  const written = storage.update<Note>('notes', req.params.id, (current) => ({ text, likes: current?.likes ?? 0 }));
  if (!written.ok) return problem(500, written.error);
  log.info(`note ${req.params.id} saved`);
  return json({ id: req.params.id, ...written.value.value, revision: written.value.revision });
});

app.delete('/notes/:id', (req) => {
  const done = storage.delete('notes', req.params.id);
  if (!done.ok) return done.error === 'missing' ? problem(404, 'note_not_found') : problem(500, done.error);
  return status(204);
});

app.post('/notes/:id/likes', (req) => {
  if (!storage.getJson<Note>('notes', req.params.id).ok) return problem(404, 'note_not_found');
  const liked = storage.update<Note>('notes', req.params.id, (current) => ({ text: current?.text ?? '', likes: (current?.likes ?? 0) + 1 }));
  if (!liked.ok) return problem(liked.error === 'conflict' ? 409 : 500, liked.error);
  return json({ likes: liked.value.value.likes });
});

app.get('/clients/:id', (req) => {
  const found = clients.get(req.params.id);
  if (!found.ok) return problem(found.error === 'not-allowed' ? 403 : 500, found.error);
  return found.value ? json(found.value) : problem(404, 'client_not_found');
});

app.get('/weather', (req) => {
  const key = secrets.get('API_KEY');
  if (!key.ok) return problem(500, `secret_${key.error}`);
  const city = req.query.get('city') ?? 'Oslo';
  const answer = http.fetch(`https://weather.example.com/v1/now?city=${encodeURIComponent(city)}`, { headers: { authorization: `Bearer ${key.value}` } });
  if (!answer.ok) return problem(502, `upstream_${answer.error}`);
  return json({ city, upstreamStatus: answer.value.status, weather: answer.value.json() ?? null });
});

app.get('/whoami', (_req, ctx) => json({ tenant: ctx.tenantId, extension: ctx.extensionId, install: ctx.installId ?? null }));

app.get('/boom', () => {
  throw new Error('kaboom');
});

// written as for Alga's @alga-psa/extension-runtime: async host calls, errors thrown
const algaStyle = fromAlgaHandler(async (request, host) => {
  try {
    const page = await host.clients.list({ pageSize: 2 });
    await host.logging.info(`listed ${page.items.length} clients for ${request.context.tenantId}`);
    return jsonResponse({ names: page.items.map((c) => c.clientName), missing: await host.storage.get('notes', 'never-written') });
  } catch (e) {
    return jsonResponse({ error: (e as Error).message }, { status: 403 });
  }
});
app.get('/alga/clients', (req) => algaStyle(req.raw));

export const handler = app.handler;
