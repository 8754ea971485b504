/** What a host call answers: a capability function's result, and the engine's answer to the guest. */

/** The answer of one capability function, as it crosses the bridge back to the guest. */
export type HostResult = { readonly kind: 'ok'; readonly value: unknown } | { readonly kind: 'err'; readonly code: string } | { readonly kind: 'value'; readonly value: unknown };

/** How an execution ended when it did not end with a response. */
export type FaultCode =
  | 'timeout'
  | 'memory_limit'
  | 'guest_trap'
  | 'guest_exit'
  | 'host_call_limit'
  | 'host_call_timeout'
  | 'response_too_large'
  | 'invalid_response'
  | 'worker_crashed'
  | 'host_error'
  | 'instantiate_failed';

/** The answer to a guest's host call: a result, or `abort` (the execution ends with a fault). */
export type HostCallAnswer = HostResult | { kind: 'abort'; code: FaultCode; message: string };

/** What the capability registry answers a round-trip call with: a result, a dropped (ungranted, no-effect) call, or a failure that ends the execution. */
export type InvokeResult = HostResult | { kind: 'dropped' } | { kind: 'failed'; message: string };

/** What the guest gets back from a dropped call (ungranted, no effect): nothing. */
export const DROPPED_ANSWER: HostResult = { kind: 'value', value: undefined };
