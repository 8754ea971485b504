import { print } from '@bytecodealliance/jco-transpile/wasm-tools';
import { readFileSync, readdirSync } from 'node:fs';
const dir = '/tmp/exp-work/artifacts/' + readdirSync('/tmp/exp-work/artifacts')[0];
const t = await print(readFileSync(`${dir}/guest.core.wasm`));
const lines = t.split('\n');
console.log(lines.filter(l => /^\s*\(data|^\s*\(global|^\s*\(memory|^\s*\(table|^\s*\(import .*memory/.test(l)).map(l => l.slice(0, 160)).slice(0, 40).join('\n'));
let stores = 0, loads = 0, bulk = 0, atomics = 0, simd = 0, total = 0;
for (const l of lines) { const s = l.trim(); if (!s || s.startsWith('(')) continue; total++; if (/\.store/.test(s)) stores++; if (/\.load/.test(s)) loads++; if (/memory\.(fill|copy|init)/.test(s)) bulk++; if (/atomic/.test(s)) atomics++; if (/v128|x4|x8|x16|x2/.test(s)) simd++; }
console.log({ total, stores, loads, bulk, atomics, simd });
console.log(lines.length);
