/**
 * @alga-runner/sdk — write Alga PSA extensions for alga-runner (packages/sdk/README.md).
 *
 *   import { createApp, json, storage } from '@alga-runner/sdk';
 *   const app = createApp();
 *   app.get('/notes/:id', (req) => { const n = storage.getJson('notes', req.params.id); … });
 *   export const handler = app.handler;
 */
export { ok, err, type Result } from './result.js';
export { createApp, App, RouteError, type Request, type Context, type RouteHandler, type RouteParams } from './router.js';
export { json, text, status, problem, type Response, type ResponseInit } from './responses.js';
export { storage, type JsonEntry, type PutOptions, type UpdateOptions } from './storage.js';
export { context, secrets, log, http, user, clients, services, uiProxy, scheduler, invoicing, type FetchInit, type FetchedResponse } from './api.js';
export type { Host } from './host.js';
export { jsonResponse, emptyResponse, normalizeUserData, callProxyJson, createHostBindings, fromAlgaHandler, HostCallError, type HostBindings, type Handler } from './alga-runtime.js';
export type * from './generated/seed.js';
