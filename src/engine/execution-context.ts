/** Per-execution identity every host function receives. */
export interface ExecutionUser {
  readonly userId: string;
  readonly userEmail: string;
  readonly userName: string;
  readonly userType: string;
  readonly clientName: string;
  readonly clientId: string | null;
  readonly additionalFields: Readonly<Record<string, string>>;
}

export interface ExecutionContext {
  readonly requestId: string;
  readonly tenantId: string;
  readonly extensionId: string;
  readonly installId: string | null;
  readonly versionId: string | null;
  readonly contentHash: string;
  readonly user: ExecutionUser | null;
  readonly config: Readonly<Record<string, string>>;
}
