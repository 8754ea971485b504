// Child process for the cross-process extraction race test: extract argv[2] into argv[3] and
// print the result as JSON.
import { readFile } from 'node:fs/promises';
import { extractBundle } from '../../src/bundle/index.js';

const [bundlePath, target] = process.argv.slice(2);
if (!bundlePath || !target) throw new Error('usage: extract-child <bundle> <target>');
const result = await extractBundle(await readFile(bundlePath), target);
process.stdout.write(JSON.stringify(result.kind === 'ok' ? { kind: 'ok', reused: result.value.reused } : result));
