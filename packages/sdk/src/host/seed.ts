/** Binds the SDK to the seed world (wit/world.wit). Importing this makes the component import that world's interfaces. */
import { bindHost } from '../host.js';
import { bindings } from '../generated/seed.js';

bindHost({
  dialect: 'seed',
  context: bindings.context,
  secrets: { get: bindings.secrets.get, list: bindings.secrets.list },
  http: bindings.http,
  storage: bindings.storage,
  logging: bindings.logging,
  uiProxy: bindings.uiProxy,
  user: bindings.userV2,
  clients: bindings.clients,
  services: bindings.services,
});
