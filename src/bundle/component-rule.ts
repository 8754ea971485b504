/**
 * Whether a bundle must hold a component (`dist/main.wasm`). As in Alga's manifest schema, `api`
 * is optional and `ui` is what an extension shows: a bundle whose manifest declares a UI and no
 * API endpoints (and no `entry`) may hold none — a UI-only extension, like Alga's `hello-world`
 * sample. Its UI is served; it has nothing to run.
 */
import type { Manifest } from './manifest.js';

/** Why this manifest's bundle cannot do without `dist/main.wasm`, or undefined when it can. */
export function componentRequiredBecause(manifest: Manifest): string | undefined {
  if ((manifest.api?.endpoints.length ?? 0) > 0) return 'the manifest declares api.endpoints, which need a component';
  if (manifest.entry !== undefined) return `the manifest names entry '${manifest.entry}'`;
  if (manifest.ui === undefined) return 'a bundle without a component must declare a ui (a UI-only extension), and this manifest declares none';
  return undefined;
}
