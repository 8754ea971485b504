/** An expected failure of a command (bad input, an API error): printed as its message, exit code 1, no stack. */
export class CliFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliFailure';
  }
}
