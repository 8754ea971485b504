/** `alga:extension/context` — the execution's identity, as the guest sees it (cap:context.read). */
import { defineCapability, value } from './capability.js';
import { serve } from './dialects.js';

export const contextCapability = defineCapability<null, null>({
  name: 'cap:context.read',
  grantedByDefault: true,
  configure: () => null,
  prepare: () => null,
  interfaces: [
    serve('alga:extension/context', {
      functions: {
        getContext: ({ ctx }) =>
          value({
            requestId: ctx.requestId,
            tenantId: ctx.tenantId,
            extensionId: ctx.extensionId,
            installId: ctx.installId ?? undefined,
            versionId: ctx.versionId ?? undefined,
          }),
      },
      // get-context has no error case: without the grant the guest learns only which tenant and
      // extension it runs for — which its own request already tells it.
      denied: {
        getContext: (ctx) => value({ tenantId: ctx.tenantId, extensionId: ctx.extensionId }),
      },
      delivery: { getContext: 'per-execution' },
    }),
  ],
});
