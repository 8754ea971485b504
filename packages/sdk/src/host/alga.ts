/** Binds the SDK to Alga's world (wit/alga/world.wit): its own names, plus scheduler and invoicing. */
import { bindHost } from '../host.js';
import { bindings } from '../generated/alga.js';

bindHost({
  dialect: 'alga',
  context: bindings.context,
  secrets: { get: bindings.secrets.get, list: bindings.secrets.listKeys },
  http: bindings.http,
  storage: { get: bindings.storage.get, put: bindings.storage.put, delete: bindings.storage.delete, list: bindings.storage.listEntries },
  logging: { info: bindings.logging.logInfo, warn: bindings.logging.logWarn, error: bindings.logging.logError },
  uiProxy: { call: bindings.uiProxy.callRoute },
  user: bindings.userV2,
  clients: bindings.clients,
  services: bindings.services,
  scheduler: bindings.scheduler,
  invoicing: bindings.invoicing,
});
