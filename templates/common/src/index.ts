/**
 * __NAME__: a small notes API on @alga-runner/sdk.
 *
 *   GET    /hello        a greeting for the tenant
 *   GET    /notes        every note
 *   POST   /notes        body {"text": "…"}: a new note (201)
 *   GET    /notes/:id    one note (404 when there is none)
 *   DELETE /notes/:id    204
 *
 * Host calls answer typed results ({ ok: true, value } or { ok: false, error }); nothing is thrown.
 */
import { createApp, json, problem, status, storage, log } from '@alga-runner/sdk';

interface Note {
  text: string;
  createdBy: string;
}

const app = createApp();

app.get('/hello', (_req, ctx) => json({ message: `Hello, ${ctx.tenantId}, from __NAME__!` }));

app.get('/notes', () => {
  const notes = storage.allJson<Note>('notes');
  if (!notes.ok) return problem(500, notes.error);
  return json({ notes: notes.value.map((n) => ({ id: n.key, ...n.value })) });
});

app.post('/notes', (req, ctx) => {
  const body = req.json<{ text?: unknown }>();
  if (typeof body.text !== 'string' || body.text.trim() === '') return problem(400, 'text_required', 'send {"text": "…"}');
  // a counter that stays right with concurrent requests (compare-and-swap under the hood)
  const next = storage.update<number>('meta', 'last-id', (last) => (last ?? 0) + 1);
  if (!next.ok) return problem(500, next.error);
  const id = String(next.value.value);
  const saved = storage.putJson<Note>('notes', id, { text: body.text, createdBy: ctx.tenantId });
  if (!saved.ok) return problem(500, saved.error);
  log.info(`note ${id} created`);
  return json({ id, ...saved.value.value }, { status: 201 });
});

app.get('/notes/:id', (req) => {
  const note = storage.getJson<Note>('notes', req.params.id);
  if (!note.ok) return note.error === 'missing' ? problem(404, 'note_not_found') : problem(500, note.error);
  return json({ id: req.params.id, ...note.value.value });
});

app.delete('/notes/:id', (req) => {
  const done = storage.delete('notes', req.params.id);
  if (!done.ok) return done.error === 'missing' ? problem(404, 'note_not_found') : problem(500, done.error);
  return status(204);
});

export const handler = app.handler;
