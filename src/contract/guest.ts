/** The guest-facing shapes: what the guest's handler is given and what it returns (WIT `alga:extension/runner`). */

/** The HTTP request the guest's handler receives. */
export interface GuestHttpRequest {
  method: string;
  /** path + query string, as the guest sees it */
  url: string;
  headers: { name: string; value: string }[];
  body: Uint8Array | undefined;
}

/** The execution's identity as the guest sees it (the handler's `context`, `get-context`, a worker function's `ctx`). */
export interface GuestContextData {
  requestId: string | undefined;
  tenantId: string;
  extensionId: string;
  installId: string | undefined;
  versionId: string | undefined;
}

/** The HTTP response the guest's handler returns. */
export interface GuestResponse {
  status: number;
  headers: { name: string; value: string }[];
  body: Uint8Array | undefined;
}
