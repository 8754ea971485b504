/** The mistakes `alga-runner build` names, each with one message (the CLI prints it and exits 1). */
export type BuildErrorCode =
  'no_project' | 'no_manifest' | 'invalid_manifest' | 'no_entry' | 'unknown_world' | 'type_error' | 'bundle_error' | 'no_handler_export' | 'ui_missing' | 'componentize_failed';

export class BuildError extends Error {
  constructor(
    readonly code: BuildErrorCode,
    message: string,
  ) {
    super(message);
  }
}
