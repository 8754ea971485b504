/**
 * The test harness's options and answers (`@alga-runner/sdk/testing`). Types only: the runner
 * implements them (alga-runner's src/testing/harness.ts), so an author's test runs the real engine.
 */

export interface TestClient {
  clientId: string;
  clientName: string;
  clientType?: string;
  isInactive?: boolean;
  defaultCurrencyCode?: string;
  accountManagerId?: string;
  accountManagerName?: string;
  billingEmail?: string;
}

export interface TestService {
  serviceId: string;
  serviceName: string;
  itemKind?: 'service' | 'product';
  billingMethod?: 'fixed' | 'hourly' | 'usage';
  serviceTypeId?: string;
  serviceTypeName?: string;
  defaultRate?: number;
  unitOfMeasure?: string;
  isActive?: boolean;
  sku?: string;
}

export interface TestUser {
  userId: string;
  userEmail: string;
  userName: string;
  userType: string;
  clientName: string;
  clientId?: string;
  additionalFields?: Record<string, string>;
}

/** An outbound request the component made, as the host received it. */
export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  /** header names lower-cased */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array | undefined;
  text(): string;
}

/** What a test's outbound HTTP answers; a string body is sent as UTF-8, any other object as JSON. */
export interface FakeResponse {
  status?: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array | object;
}

export interface TestRunnerOptions {
  /** the built component: a .wasm path or its bytes */
  component: string | Uint8Array;
  /** manifest.json (path or parsed): its `capabilities` become the grants unless `grants` is given */
  manifest?: string | { capabilities?: string[] };
  /**
   * what the install grants (default: everything the manifest declares; without a manifest, every
   * capability this runner serves). As in the runner, only declared capabilities are granted, and
   * cap:context.read, cap:log.emit and cap:user.read always are.
   */
  grants?: string[];
  /** default 'demo' */
  tenant?: string;
  /** default 'local' */
  extensionId?: string;
  /** the install's secrets */
  secrets?: Record<string, string>;
  /** the install's config (request context) */
  config?: Record<string, string>;
  /** the tenant's clients and services (default: the runner's demo data) */
  clients?: TestClient[];
  services?: TestService[];
  /** the user calls run for (user-v2.get-user); default none ('not-available') */
  user?: TestUser;
  /** the install's egress allowlist (default ['*']: every host, all answered by `http`) */
  egressAllow?: string[];
  /**
   * Answers the component's outbound HTTP; nothing leaves the machine. Every request is recorded
   * in `runner.http.requests` first. Default: 404 for everything.
   */
  http?: (request: RecordedRequest) => FakeResponse | Promise<FakeResponse>;
  /** per-request limits */
  timeoutMs?: number;
  memoryMb?: number;
}

export interface TestRequest {
  headers?: Record<string, string>;
  /** a string or bytes as is; any other value as JSON (with content-type application/json) */
  body?: string | Uint8Array | object;
  /** the user for this request (overrides the runner's) */
  user?: TestUser;
}

export interface TestResponse {
  readonly status: number;
  /** header names lower-cased */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  text(): string;
  /** the body parsed as JSON (throws when it is not JSON) */
  json<T = unknown>(): T;
  /** the log records of this request: the component's log lines, stdout/stderr and host notes */
  readonly logs: readonly TestLogRecord[];
}

export interface TestLogRecord {
  readonly level: string;
  readonly stream: string;
  readonly message: string;
}

export interface TestRunner {
  /** One request through the real engine; the store, secrets and data persist across requests. */
  request(method: string, path: string, init?: TestRequest): Promise<TestResponse>;
  get(path: string, init?: TestRequest): Promise<TestResponse>;
  post(path: string, body?: TestRequest['body'], init?: Omit<TestRequest, 'body'>): Promise<TestResponse>;
  put(path: string, body?: TestRequest['body'], init?: Omit<TestRequest, 'body'>): Promise<TestResponse>;
  delete(path: string, init?: TestRequest): Promise<TestResponse>;
  /** every outbound request, in order */
  readonly http: { readonly requests: readonly RecordedRequest[] };
  /** every log record of every request, in order */
  readonly logs: readonly TestLogRecord[];
  /** the install's id (a fresh UUID per runner) */
  readonly installId: string;
  /** the granted capabilities */
  readonly grants: readonly string[];
  /** stops the engine and deletes the store */
  close(): Promise<void>;
}
