/**
 * The import rules of src/ (.dependency-cruiser.mjs): no cycle anywhere, src/contract stands alone,
 * the store, engine and capabilities keep to their layers. A failure lists each violation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cruise, type ICruiseOptions, type IForbiddenRuleType, type IViolation } from 'dependency-cruiser';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const root = fileURLToPath(new URL('../../', import.meta.url));
const config = ((await import(pathToFileURL(join(root, '.dependency-cruiser.mjs')).href)) as { default: { forbidden: IForbiddenRuleType[]; options: ICruiseOptions } }).default;

async function violationsIn(baseDir: string): Promise<{ modules: number; violations: IViolation[] }> {
  const options: ICruiseOptions = { ...config.options, baseDir, validate: true, ruleSet: { forbidden: config.forbidden }, outputType: 'json' };
  const result = await cruise(['src'], options, {}, { tsConfig: extractTSConfig(join(root, 'tsconfig.json')) });
  const { summary } = JSON.parse(result.output as string) as { summary: { totalCruised: number; violations: IViolation[] } };
  return { modules: summary.totalCruised, violations: summary.violations };
}

function describe(v: IViolation): string {
  const path = v.cycle && v.cycle.length > 0 ? [v.from, ...v.cycle.map((c) => c.name)].join(' → ') : `${v.from} → ${v.to}`;
  return `${v.rule.name}: ${path}`;
}

test('src/ has no import cycle and keeps its layers (.dependency-cruiser.mjs)', { timeout: 60_000 }, async () => {
  const { modules, violations } = await violationsIn(root);
  assert.ok(modules > 100, `the cruise found only ${modules} modules: it did not follow src/'s imports`);
  assert.deepEqual(violations.map(describe), []);
});

test('the checker sees a cycle, type-only imports included', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'alga-architecture-'));
  try {
    mkdirSync(join(dir, 'src', 'a'), { recursive: true });
    writeFileSync(join(dir, 'src', 'a', 'one.ts'), "import type { Two } from './two.js';\nexport interface One { two: Two }\n");
    writeFileSync(join(dir, 'src', 'a', 'two.ts'), "import type { One } from './one.js';\nexport interface Two { one: One }\n");
    const { violations } = await violationsIn(dir);
    assert.ok(
      violations.some((v) => v.rule.name === 'no-circular'),
      JSON.stringify(violations.map(describe)),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
