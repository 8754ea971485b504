// Generates the host's TypeScript bindings of every WIT world in wit/ into src/generated/wit/.
//
// Each world is a dialect of package alga:extension: wit/world.wit is the seed (`seed`), and
// wit/<name>/world.wit is the dialect <name>. For each, src/generated/wit/<name>.ts holds:
//  - every record, enum, variant, flags and type alias, as jco lowers and lifts them (records as
//    camelCase interfaces, `option<T>` fields optional, `list<u8>` as Uint8Array, 64-bit integers
//    as bigint, enums as unions of their kebab-case names). Fields, lists and tuples are readonly:
//    the host only builds answers, which jco reads;
//  - `Interfaces`: for every interface, every function by its jco name with its parameters (as jco
//    lifts them from the guest) and its answer: `ok` and `err` for a WIT `result` (the error must
//    be an enum: a host result carries its case as `code`), `returns` for anything else;
//  - `WORLD_IMPORTS`: the interfaces world `runner` imports, with their functions.
// jco's own `types` output cannot serve: it declares a `result<T, E>` function as returning T
// (jco throws the error), so the error enum is lost.
//
// The WIT is first read by jco's wasm-tools (a dummy component is embedded for the world), so a
// file the real parser refuses fails here with its message; the small parser below then reads
// the text, and the imports it finds are checked against what wasm-tools resolved.
//
//   node scripts/wit-types.mjs           write the files (only those that changed); npm run build runs this first
//   node scripts/wit-types.mjs --check   exit 1 when a file is missing or stale (test/wit-dialects.test.ts does the same)
//
// Generated files are checked in so that `tsc` alone builds a fresh clone; a WIT change without
// regenerating fails --check and the test.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const WIT_DIR = join(root, 'wit');
export const OUT_DIR = join(root, 'src', 'generated', 'wit');
const WORLD = 'runner';

/** Every dialect: `seed` for wit/world.wit, `<name>` for wit/<name>/world.wit. */
export function dialects() {
  const found = [{ name: 'seed', path: join(WIT_DIR, 'world.wit') }];
  for (const entry of readdirSync(WIT_DIR, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.isDirectory() && entry.name !== 'deps' && existsSync(join(WIT_DIR, entry.name, 'world.wit'))) {
      if (!/^[a-z][a-z0-9-]*$/.test(entry.name) || entry.name === 'seed') throw new Error(`wit/${entry.name}: a dialect's directory name must be kebab-case and not "seed"`);
      found.push({ name: entry.name, path: join(WIT_DIR, entry.name, 'world.wit') });
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// A small WIT parser: packages of interfaces (types and functions) and worlds. No resources,
// no nested packages, no inline interfaces in worlds: the generator refuses what it does not know.

function tokenize(text, file) {
  const tokens = [];
  const re = /\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/|(->)|([{}()<>,;:.=*/@_])|(%?[A-Za-z][A-Za-z0-9-]*|[0-9][0-9A-Za-z.+-]*)/y;
  let m;
  while (re.lastIndex < text.length) {
    const at = re.lastIndex;
    if (!(m = re.exec(text))) throw new Error(`${file}: cannot read WIT at ${JSON.stringify(text.slice(at, at + 20))}`);
    const tok = m[1] ?? m[2] ?? m[3];
    if (tok !== undefined) tokens.push(tok);
  }
  return tokens;
}

class Parser {
  constructor(tokens, file) {
    this.t = tokens;
    this.i = 0;
    this.file = file;
  }
  peek(n = 0) {
    return this.t[this.i + n];
  }
  next() {
    if (this.i >= this.t.length) throw new Error(`${this.file}: unexpected end of WIT`);
    return this.t[this.i++];
  }
  eat(tok) {
    if (this.peek() === tok) {
      this.i++;
      return true;
    }
    return false;
  }
  expect(tok) {
    const got = this.next();
    if (got !== tok) throw new Error(`${this.file}: expected "${tok}", found "${got}" (token ${this.i})`);
  }
  id() {
    const tok = this.next();
    if (!/^%?[A-Za-z]/.test(tok)) throw new Error(`${this.file}: expected a name, found "${tok}"`);
    return tok.replace(/^%/, '');
  }
  /** skips to the end of the current statement (`;`, or a balanced `{…}` block) */
  skipStatement() {
    let depth = 0;
    for (;;) {
      const tok = this.next();
      if (tok === '{') depth++;
      else if (tok === '}' && --depth === 0) return;
      else if (tok === ';' && depth === 0) return;
    }
  }
  type() {
    const name = this.id();
    if (!this.eat('<')) return { kind: 'named', name };
    const args = [];
    if (!this.eat('>')) {
      do args.push(this.eat('_') ? null : this.type());
      while (this.eat(','));
      this.expect('>');
    }
    return { kind: name, args };
  }
}

/** `{ packageName, interfaces: Map<name, { types: Map, functions: [], uses: [] }>, worlds: Map<name, { imports: [] }> }` */
export function parseWit(text, file = 'wit') {
  const p = new Parser(tokenize(text, file), file);
  const doc = { packageName: null, interfaces: new Map(), worlds: new Map() };
  while (p.peek() !== undefined) {
    const tok = p.next();
    if (tok === 'package') {
      let name = '';
      while (p.peek() !== ';') name += p.next();
      p.expect(';');
      doc.packageName = name.replace(/@.*$/, '');
    } else if (tok === 'interface') {
      const name = p.id();
      doc.interfaces.set(name, parseInterface(p, name));
    } else if (tok === 'world') {
      const name = p.id();
      doc.worlds.set(name, parseWorld(p));
    } else {
      throw new Error(`${file}: unexpected "${tok}" at the top level`);
    }
  }
  if (!doc.packageName) throw new Error(`${file}: no package declaration`);
  return doc;
}

function parseInterface(p, ifaceName) {
  const iface = { types: new Map(), functions: [], uses: [] };
  p.expect('{');
  while (!p.eat('}')) {
    const tok = p.next();
    if (tok === 'use') {
      const from = p.id();
      p.expect('.');
      p.expect('{');
      do {
        const name = p.id();
        const as = p.eat('as') ? p.id() : name;
        iface.uses.push({ from, name, as });
      } while (p.eat(','));
      p.expect('}');
      p.expect(';');
    } else if (tok === 'record' || tok === 'variant') {
      const name = p.id();
      const items = [];
      p.expect('{');
      while (!p.eat('}')) {
        const field = p.id();
        if (tok === 'record') {
          p.expect(':');
          items.push({ name: field, type: p.type() });
        } else if (p.eat('(')) {
          items.push({ name: field, type: p.type() });
          p.expect(')');
        } else {
          items.push({ name: field, type: null });
        }
        if (!p.eat(',')) {
          p.expect('}');
          break;
        }
      }
      iface.types.set(name, { kind: tok, items });
    } else if (tok === 'enum' || tok === 'flags') {
      const name = p.id();
      const cases = [];
      p.expect('{');
      while (!p.eat('}')) {
        cases.push(p.id());
        if (!p.eat(',')) {
          p.expect('}');
          break;
        }
      }
      iface.types.set(name, { kind: tok, cases });
    } else if (tok === 'type') {
      const name = p.id();
      p.expect('=');
      iface.types.set(name, { kind: 'alias', type: p.type() });
      p.expect(';');
    } else if (tok === 'resource') {
      throw new Error(`${p.file}: interface ${ifaceName}: resources are not supported by the host bindings`);
    } else {
      const name = tok.replace(/^%/, '');
      p.expect(':');
      p.expect('func');
      p.expect('(');
      const params = [];
      while (!p.eat(')')) {
        const param = p.id();
        p.expect(':');
        params.push({ name: param, type: p.type() });
        if (!p.eat(',')) {
          p.expect(')');
          break;
        }
      }
      const result = p.eat('->') ? p.type() : null;
      p.expect(';');
      iface.functions.push({ name, params, result });
    }
  }
  return iface;
}

function parseWorld(p) {
  const world = { imports: [] };
  p.expect('{');
  while (!p.eat('}')) {
    const tok = p.next();
    // `import name;` of an interface of this package; anything else (functions, other packages) is skipped
    if (tok === 'import' && /^%?[a-z]/.test(p.peek()) && p.peek(1) === ';') {
      world.imports.push(p.id());
      p.expect(';');
    } else {
      p.i--;
      p.skipStatement();
    }
  }
  return world;
}

// ---------------------------------------------------------------------------------------------
// TypeScript

const camel = (kebab) => kebab.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
const pascal = (kebab) => camel(kebab).replace(/^[a-z]/, (c) => c.toUpperCase());
const NUMBERS = new Set(['u8', 'u16', 'u32', 's8', 's16', 's32', 'f32', 'f64', 'float32', 'float64']);
const RESERVED = new Set([
  'break',
  'case',
  'catch',
  'class',
  'const',
  'continue',
  'debugger',
  'default',
  'delete',
  'do',
  'else',
  'enum',
  'export',
  'extends',
  'false',
  'finally',
  'for',
  'function',
  'if',
  'import',
  'in',
  'instanceof',
  'new',
  'null',
  'return',
  'super',
  'switch',
  'this',
  'throw',
  'true',
  'try',
  'typeof',
  'var',
  'void',
  'while',
  'with',
]);

/** The jco name of a WIT function (`list-keys` → `listKeys`). */
export const jcoName = camel;

function tsType(t, ctx) {
  if (t.kind === 'named') {
    if (t.name === 'bool') return 'boolean';
    if (NUMBERS.has(t.name)) return 'number';
    if (t.name === 'u64' || t.name === 's64') return 'bigint';
    if (t.name === 'string' || t.name === 'char') return 'string';
    if (!ctx.known.has(t.name)) throw new Error(`${ctx.where}: unknown type ${t.name}`);
    return pascal(t.name);
  }
  const [a, b] = t.args;
  switch (t.kind) {
    case 'list':
      return a.kind === 'named' && a.name === 'u8' ? 'Uint8Array' : `ReadonlyArray<${tsType(a, ctx)}>`;
    case 'option':
      return `${tsType(a, ctx)} | undefined`;
    case 'tuple':
      return `readonly [${t.args.map((x) => tsType(x, ctx)).join(', ')}]`;
    case 'result':
      return `{ tag: 'ok'; val: ${a ? tsType(a, ctx) : 'undefined'} } | { tag: 'err'; val: ${b ? tsType(b, ctx) : 'undefined'} }`;
    default:
      throw new Error(`${ctx.where}: type ${t.kind}<…> is not supported by the host bindings`);
  }
}

function typeDeclaration(name, def, ctx) {
  const ts = pascal(name);
  switch (def.kind) {
    case 'record': {
      const fields = def.items.map((f) => (f.type.kind === 'option' ? `  readonly ${camel(f.name)}?: ${tsType(f.type.args[0], ctx)};` : `  readonly ${camel(f.name)}: ${tsType(f.type, ctx)};`));
      return `export interface ${ts} {\n${fields.join('\n')}\n}`;
    }
    case 'enum':
      return `export type ${ts} = ${def.cases.map((c) => `'${c}'`).join(' | ')};`;
    case 'variant':
      return `export type ${ts} =\n${def.items.map((c) => `  | { tag: '${c.name}'${c.type ? `; val: ${tsType(c.type, ctx)}` : ''} }`).join('\n')};`;
    case 'flags':
      return `export interface ${ts} {\n${def.cases.map((c) => `  readonly ${camel(c)}?: boolean;`).join('\n')}\n}`;
    case 'alias':
      return `export type ${ts} = ${tsType(def.type, ctx)};`;
  }
  throw new Error(`${ctx.where}: ${def.kind} is not supported`);
}

function functionDescriptor(fn, iface, ctx) {
  const params = fn.params.map((p) => `${RESERVED.has(camel(p.name)) ? `${camel(p.name)}_` : camel(p.name)}: ${tsType(p.type, ctx)}`).join(', ');
  const r = fn.result;
  if (r && r.kind === 'result') {
    const [okType, errType] = r.args;
    const errDef = errType && errType.kind === 'named' ? ctx.defs.get(errType.name) : undefined;
    if (!errDef || errDef.kind !== 'enum') throw new Error(`${ctx.where}: ${iface}.${fn.name}: the error of a result must be an enum (a host result carries its case as \`code\`)`);
    return `{ params: [${params}]; ok: ${okType ? tsType(okType, ctx) : 'undefined'}; err: ${pascal(errType.name)} }`;
  }
  return `{ params: [${params}]; returns: ${r ? tsType(r, ctx) : 'undefined'} }`;
}

/** The TypeScript module of one dialect's WIT text. */
export function generate(text, { dialect, source }) {
  const doc = parseWit(text, source);
  const world = doc.worlds.get(WORLD);
  if (!world) throw new Error(`${source}: no world ${WORLD}`);
  // every type of the package by its name; WIT lets interfaces share them through `use`
  const defs = new Map();
  for (const [ifaceName, iface] of doc.interfaces) {
    for (const [name, def] of iface.types) {
      if (defs.has(name)) throw new Error(`${source}: type ${name} is defined twice (in ${ifaceName} and before): the bindings name types by their WIT name`);
      defs.set(name, def);
    }
  }
  const out = [
    `// Generated by scripts/wit-types.mjs from ${source}: do not edit. \`npm run build\` regenerates it;`,
    '// test/wit-dialects.test.ts and `node scripts/wit-types.mjs --check` fail while it is stale.',
    '',
    `/** The WIT dialect these bindings describe (world \`${WORLD}\` of ${doc.packageName}). */`,
    `export const DIALECT = '${dialect}';`,
  ];
  for (const [ifaceName, iface] of doc.interfaces) {
    const known = new Set([...iface.types.keys(), ...iface.uses.map((u) => u.as)]);
    for (const u of iface.uses) if (u.as !== u.name) throw new Error(`${source}: ${ifaceName}: \`use … as\` is not supported`);
    const ctx = { known, defs, where: `${source}: interface ${ifaceName}` };
    for (const [name, def] of iface.types) {
      out.push('', `/** \`${def.kind === 'alias' ? 'type' : def.kind} ${name}\` of ${doc.packageName}/${ifaceName} */`, typeDeclaration(name, def, ctx));
    }
  }
  out.push(
    '',
    '/**',
    ' * Every function of every interface, by its jco name: `params` as jco lifts them from the guest;',
    ' * `ok` and `err` for a WIT `result`, `returns` for a plain return (`undefined`: none).',
    ' */',
    'export interface Interfaces {',
  );
  for (const [ifaceName, iface] of doc.interfaces) {
    if (iface.functions.length === 0) continue;
    const known = new Set([...iface.types.keys(), ...iface.uses.map((u) => u.as)]);
    const ctx = { known, defs, where: `${source}: interface ${ifaceName}` };
    out.push(`  '${doc.packageName}/${ifaceName}': {`);
    for (const fn of iface.functions) out.push(`    ${jcoName(fn.name)}: ${functionDescriptor(fn, ifaceName, ctx)};`);
    out.push('  };');
  }
  out.push('}', '', `/** The interfaces world \`${WORLD}\` imports, with their functions by jco name. */`, 'export const WORLD_IMPORTS = {');
  for (const name of world.imports) {
    const iface = doc.interfaces.get(name);
    if (!iface) throw new Error(`${source}: world ${WORLD} imports ${name}, which the file does not define`);
    if (iface.functions.length > 0) out.push(`  '${doc.packageName}/${name}': [${iface.functions.map((f) => `'${jcoName(f.name)}'`).join(', ')}],`);
  }
  out.push('} as const;', '');
  return { text: out.join('\n'), doc };
}

/** Reads each dialect's WIT with jco's wasm-tools, then generates its module: `[{ dialect, path, text }]`. */
export async function generateAll() {
  const { componentEmbed, componentWitMetadataForWorld } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  const files = [];
  for (const { name, path } of dialects()) {
    const source = relative(root, path);
    const wit = readFileSync(path, 'utf8');
    try {
      await componentEmbed({ dummy: true, witSource: wit, world: WORLD });
    } catch (e) {
      throw new Error(`${source} does not parse: ${e instanceof Error ? e.message : String(e)}`);
    }
    const { text, doc } = generate(wit, { dialect: name, source });
    // the world's imports as the real parser resolved them must be the ones the bindings list
    const resolved = (await componentWitMetadataForWorld({ tag: 'source', val: wit }, WORLD)).imports.map((i) => `${i.namespace}:${i.package}/${i.interface}`);
    const ours = doc.worlds.get(WORLD).imports.map((i) => `${doc.packageName}/${i}`);
    // (interfaces the world reaches only through `use`, like `types`, have no functions to serve)
    for (const i of resolved) {
      const iface = i.startsWith(`${doc.packageName}/`) ? doc.interfaces.get(i.slice(doc.packageName.length + 1)) : undefined;
      if (!ours.includes(i) && (!iface || iface.functions.length > 0)) throw new Error(`${source}: wasm-tools finds world ${WORLD} importing ${i}, which this parser missed`);
    }
    for (const i of ours) if (!resolved.includes(i)) throw new Error(`${source}: this parser finds world ${WORLD} importing ${i}, which wasm-tools does not`);
    files.push({ dialect: name, path: join(OUT_DIR, `${name}.ts`), text });
  }
  return files;
}

/** Files under OUT_DIR that differ from what the WIT generates (missing, stale, or left from a removed dialect). */
export function staleFiles(files) {
  const stale = files.filter((f) => !existsSync(f.path) || readFileSync(f.path, 'utf8') !== f.text).map((f) => f.path);
  if (existsSync(OUT_DIR)) for (const name of readdirSync(OUT_DIR)) if (!files.some((f) => f.path === join(OUT_DIR, name))) stale.push(join(OUT_DIR, name));
  return stale.map((p) => relative(root, p));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const files = await generateAll();
    if (process.argv.includes('--check')) {
      const stale = staleFiles(files);
      if (stale.length > 0) {
        console.error(`wit-types: stale bindings (run \`node scripts/wit-types.mjs\`): ${stale.join(', ')}`);
        process.exit(1);
      }
    } else {
      mkdirSync(OUT_DIR, { recursive: true });
      for (const f of files) if (!existsSync(f.path) || readFileSync(f.path, 'utf8') !== f.text) writeFileSync(f.path, f.text);
      for (const name of readdirSync(OUT_DIR)) if (!files.some((f) => f.path === join(OUT_DIR, name))) rmSync(join(OUT_DIR, name));
    }
  } catch (e) {
    console.error(`wit-types: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
