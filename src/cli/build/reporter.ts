/** How a build tells its progress: the CLI writes lines to stderr; `dev` prefixes them; tests collect them. */
export interface BuildReporter {
  info(line: string): void;
  warn(line: string): void;
  /** a long step (`label`) has begun, said by `line`; `seconds()` says how long it has run. Returns the function that ends it. */
  progress(line: string, label: string, seconds: () => number): () => void;
}

/** Lines on a stream; a terminal gets a counter rewritten in place, anything else a line every 5 s. */
export function streamReporter(stream: NodeJS.WriteStream, prefix = 'build: '): BuildReporter {
  return {
    info: (line) => stream.write(`${prefix}${line}\n`),
    warn: (line) => stream.write(`${prefix}warning: ${line}\n`),
    progress(line, label, seconds) {
      stream.write(`${prefix}${line}\n`);
      const tty = stream.isTTY === true;
      const timer = setInterval(
        () => {
          if (tty) stream.write(`\r${prefix}${label}: ${seconds()} s`);
          else stream.write(`${prefix}${label}: ${seconds()} s\n`);
        },
        tty ? 1000 : 5000,
      );
      return () => {
        clearInterval(timer);
        if (tty) stream.write('\r\x1b[K');
      };
    },
  };
}
