/**
 * A guest written for Alga's SDK (`@alga-psa/extension-runtime`): it imports the world's functions
 * itself, builds the part of `HostBindings` it uses, and answers with the runtime's helpers. It uses
 * nothing of this runner's SDK by name; scripts/build-examples.mjs resolves the runtime to
 * `@alga-runner/sdk/alga-runtime`, as `alga-runner build` does. Routes:
 *
 *   GET    /whoami    the context (tenant, extension)
 *   GET    /clients   the first two clients' names
 *   GET    /user      the user, normalised (additionalFields as an object)
 *   DELETE /anything  204 from emptyResponse()
 */
import type { ContextData, ExecuteRequest, ExecuteResponse, HostBindings } from '@alga-psa/extension-runtime';
import { emptyResponse, jsonResponse, normalizeUserData } from '@alga-psa/extension-runtime';
import { getContext } from 'alga:extension/context';
import { listClients } from 'alga:extension/clients';
import { getUser } from 'alga:extension/user-v2';

const host: Pick<HostBindings, 'context' | 'clients' | 'user'> = {
  context: { get: async () => getContext() as ContextData },
  clients: {
    list: async (input) => listClients(input ?? {}),
    get: async () => null,
  },
  user: { getUser: async () => normalizeUserData(getUser()) },
};

async function route(request: ExecuteRequest): Promise<ExecuteResponse> {
  const path = new URL(request.http.url, 'http://guest.invalid').pathname;
  if (request.http.method === 'DELETE') return emptyResponse();
  if (path === '/whoami') {
    const context = await host.context.get();
    return jsonResponse({ tenant: context.tenantId, extension: context.extensionId });
  }
  if (path === '/clients') {
    const page = await host.clients.list({ pageSize: 2 });
    return jsonResponse({ names: page.items.map((c) => c.clientName) });
  }
  if (path === '/user') return jsonResponse(await host.user.getUser());
  return jsonResponse({ error: 'not_found' }, { status: 404 });
}

/** A thrown host error (jco's, with `payload`) answers 403 with its code, as Alga's samples do by hand. */
export async function handler(request: ExecuteRequest): Promise<ExecuteResponse> {
  try {
    return await route(request);
  } catch (e) {
    const code = e !== null && typeof e === 'object' && 'payload' in e ? String((e as { payload: unknown }).payload) : String(e);
    return jsonResponse({ error: code }, { status: 403 });
  }
}
