/**
 * `alga-runner logs <install> [--follow] [--limit N] [--request-id ID]`: the install's log records
 * (what its guest logged, and the runner's notes on it, such as denied capability calls), from
 * `GET /admin/v1/installs/{id}/logs`; with --follow, the live tail (server-sent events) until
 * interrupted.
 */
import type { Command } from 'commander';
import { adminCall, adminFetch, seg } from '../admin/client.js';
import { CliFailure } from '../admin/failure.js';
import { printJson, targetOptions, type CommonFlags } from '../admin/output.js';
import { resolveTarget } from '../admin/profile.js';

interface LogRecord {
  id: number;
  ts: string;
  level: string;
  stream: string;
  message: string;
  request_id?: string | null;
}

function line(r: LogRecord, json: boolean | undefined): string {
  if (json) return `${JSON.stringify(r)}\n`;
  return `${r.ts} ${r.level.toUpperCase().padEnd(5)} ${r.stream === 'log' ? '' : `[${r.stream}] `}${r.request_id ? `(${r.request_id}) ` : ''}${r.message}\n`;
}

/** Server-sent events from a response body: each `data:` of an `event: log`, in order. */
async function* sseRecords(body: ReadableStream<Uint8Array>): AsyncGenerator<LogRecord> {
  let buffered = '';
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n');
      if (data) yield JSON.parse(data) as LogRecord;
    }
  }
}

export function registerLogsCommand(program: Command): void {
  targetOptions(program.command('logs').description("an install's log records, oldest first (GET /admin/v1/installs/{id}/logs); --follow keeps printing new ones"))
    .argument('<install>', 'install id')
    .option('-f, --follow', 'after the newest records, print each new one as it is stored (Ctrl-C ends)')
    .option('--limit <n>', 'how many of the newest records (1-10000, default 100)')
    .option('--request-id <id>', 'only the records of this request')
    .addHelpText('after', '\nEach line: time, level, [stream] when not a log call, (request id), message. With --json: one JSON record a line (--follow), or {records} at once.')
    .action(async (id: string, options: CommonFlags & { follow?: boolean; limit?: string; requestId?: string }) => {
      if (options.limit !== undefined && !/^[1-9]\d*$/.test(options.limit)) throw new CliFailure(`--limit must be a positive integer, not ${options.limit}`);
      const target = await resolveTarget(options);
      const query = new URLSearchParams();
      if (options.limit) query.set('limit', options.limit);
      if (options.requestId) query.set('request_id', options.requestId);
      const path = `/admin/v1/installs/${seg(id)}/logs`;
      if (!options.follow) {
        const answer = await adminCall<{ records: LogRecord[] }>(target, 'GET', `${path}?${query}`);
        if (options.json) return printJson(answer);
        for (const r of answer.records) process.stdout.write(line(r, false));
        return;
      }
      query.set('follow', '1');
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const response = await adminFetch(target, 'GET', `${path}?${query}`, { signal: controller.signal });
      try {
        for await (const r of sseRecords(response.body!)) process.stdout.write(line(r, true === options.json));
      } catch (e) {
        if (!controller.signal.aborted) throw new CliFailure(`the live tail ended: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      if (!controller.signal.aborted) throw new CliFailure('the runner closed the live tail (shutting down?)');
    });
}
