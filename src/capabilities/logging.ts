/**
 * `cap:log.emit` — interface `alga:extension/logging` (wit/world.wit), granted by default.
 * Serves `info`/`warn`/`error` and the later dialect's `log-info`/`log-warn`/`log-error`. The
 * execution's `services.log` does the rest: request context, UTF-8-safe truncation, the
 * per-execution budget and the install's stored log.
 */
import { defineCapability, value } from './capability.js';
import type { Capability, CapabilityFunction } from './capability.js';
import { serve, type SeedInterfaces } from './dialects.js';

export const LOGGING_CAPABILITY = 'cap:log.emit';
export const LOGGING_INTERFACE = 'alga:extension/logging';

const emit =
  (level: 'info' | 'warn' | 'error'): CapabilityFunction<null, null, SeedInterfaces['alga:extension/logging']['info']> =>
  ({ args, services }) => {
    const message = args[0];
    services.log(level, typeof message === 'string' ? message : String(message));
    return value(undefined);
  };

export function createLoggingCapability(): Capability<null, null> {
  const info = emit('info');
  const warn = emit('warn');
  const error = emit('error');
  return defineCapability<null, null>({
    name: LOGGING_CAPABILITY,
    grantedByDefault: true,
    configure: () => null,
    prepare: () => null,
    interfaces: [
      serve(LOGGING_INTERFACE, {
        functions: { info, warn, error },
        // logging has no error case: without the grant a record is dropped (and counted).
        denied: { info: 'drop', warn: 'drop', error: 'drop' },
        // the guest never waits for a log record to be written
        delivery: { info: 'one-way', warn: 'one-way', error: 'one-way' },
      }),
    ],
  });
}
