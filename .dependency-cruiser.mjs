/**
 * Import rules for src/, checked by test/architecture.test.ts (through dependency-cruiser's API:
 * its CLI, `npx depcruise`, refuses to start on Node 20, the API runs).
 * By hand on Node >= 22: npx depcruise src --config .dependency-cruiser.mjs --output-type err
 */
export default {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycle anywhere in src/ (type-only imports count too).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'contract-stands-alone',
      comment: 'src/contract holds the types engine and capabilities share: it imports nothing else from src/.',
      severity: 'error',
      from: { path: '^src/contract/' },
      to: { path: '^src/', pathNot: '^src/contract/' },
    },
    {
      name: 'store-below-engine-and-service',
      comment: 'The store is a layer below: it imports neither the engine, the capabilities nor the service.',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/(engine|capabilities|service)/' },
    },
    {
      name: 'engine-not-service',
      comment: 'The engine knows nothing of the HTTP service.',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: '^src/service/' },
    },
    {
      name: 'engine-not-capabilities',
      comment: 'The engine reaches the capabilities only through src/contract (CapabilityHost).',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: '^src/capabilities/' },
    },
    {
      name: 'capabilities-not-engine-or-service',
      comment: 'Capabilities see executions through src/contract, never the engine or the service.',
      severity: 'error',
      from: { path: '^src/capabilities/' },
      to: { path: '^src/(engine|service)/' },
    },
    {
      name: 'service-through-engine-api',
      comment: 'The service talks to the engine through EngineApi (engine/api.ts); engine.ts only to create one, limits.ts for the limits; config.ts reads the defaults it documents.',
      severity: 'error',
      from: { path: '^src/service/', pathNot: '^src/service/config\\.ts$' },
      to: { path: '^src/engine/', pathNot: '^src/engine/(api|engine|limits)\\.ts$' },
    },
  ],
  options: {
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
