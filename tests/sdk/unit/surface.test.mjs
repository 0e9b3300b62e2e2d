// The public surface of Oriel's SDK against @mux/spaces-web 1.2.0's, read from both sets of
// type declarations with the TypeScript compiler API: every export of the Mux SDK exists with
// the same kind; classes have every public member; enums have the same members and values;
// functions the same parameters; and the runtime module exports the same names. Also compiles
// tests/sdk/types/usage.ts against our declarations (typed listeners).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SDK } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const sdkDir = path.join(repo, 'sdk/web');
const require = createRequire(path.join(sdkDir, 'package.json'));
const ts = require('typescript');
const MUX_TYPES = path.join(repo, 'tests/e2e/node_modules/@mux/spaces-web/dist/types/index.d.ts');
const MUX_ESM = path.join(repo, 'tests/e2e/node_modules/@mux/spaces-web/dist/index.mjs');
const OUR_TYPES = path.join(sdkDir, 'dist/types/index.d.ts');

const isPublic = (decl) => {
  const mods = ts.getCombinedModifierFlags(decl);
  return !(mods & ts.ModifierFlags.Private) && !(mods & ts.ModifierFlags.Protected) && !(decl.name && ts.isPrivateIdentifier(decl.name));
};

/** name → {kind, members} of every export of a declaration entry point. */
function surface(entry) {
  const program = ts.createProgram([entry], { noEmit: true, skipLibCheck: true, types: [], lib: ['lib.es2020.d.ts', 'lib.dom.d.ts'] });
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry));
  const out = new Map();
  for (let symbol of checker.getExportsOfModule(moduleSymbol)) {
    const name = symbol.getName();
    if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    const decl = symbol.declarations?.[0];
    if (!decl) continue;
    if (ts.isClassDeclaration(decl)) {
      const members = new Map();
      for (const m of decl.members) {
        if (ts.isConstructorDeclaration(m)) {
          members.set('constructor', m.parameters.map((p) => p.name.getText()).join(','));
        } else if (m.name && isPublic(m) && !(ts.getCombinedModifierFlags(m) & ts.ModifierFlags.Static)) {
          members.set(m.name.getText(), ts.isMethodDeclaration(m) ? 'method' : 'property');
        }
      }
      const heritage = decl.heritageClauses?.flatMap((h) => h.types.map((t) => t.expression.getText())) ?? [];
      out.set(name, { kind: 'class', members, heritage });
    } else if (ts.isEnumDeclaration(decl)) {
      out.set(name, { kind: 'enum', members: new Map(decl.members.map((m) => [m.name.getText(), m.initializer?.getText()])) });
    } else if (ts.isFunctionDeclaration(decl)) {
      out.set(name, { kind: 'function', params: decl.parameters.map((p) => `${p.name.getText()}${p.questionToken ? '?' : ''}`) });
    } else if (ts.isInterfaceDeclaration(decl)) {
      out.set(name, { kind: 'interface', members: new Map(decl.members.filter((m) => m.name).map((m) => [m.name.getText(), !!m.questionToken])) });
    } else if (ts.isTypeAliasDeclaration(decl)) {
      const members = ts.isTypeLiteralNode(decl.type) ? new Map(decl.type.members.map((m) => [m.name.getText(), !!m.questionToken])) : new Map();
      out.set(name, { kind: 'type', members });
    } else {
      out.set(name, { kind: ts.SyntaxKind[decl.kind] });
    }
  }
  return out;
}

test('our declarations have every export of @mux/spaces-web 1.2.0, with the same kinds, members, enum values and parameters', (t) => {
  assert.ok(fs.existsSync(OUR_TYPES), 'sdk/web/dist/types: run the build first');
  const mux = surface(MUX_TYPES);
  const ours = surface(OUR_TYPES);
  assert.ok(mux.size >= 39, `read ${mux.size} exports of the Mux SDK`);
  const problems = [];
  for (const [name, theirs] of mux) {
    const mine = ours.get(name);
    if (!mine) {
      problems.push(`${name}: missing`);
      continue;
    }
    if (mine.kind !== theirs.kind) problems.push(`${name}: a ${mine.kind}, Mux's is a ${theirs.kind}`);
    if (theirs.kind === 'class') {
      for (const [member, what] of theirs.members) {
        if (!mine.members.has(member)) problems.push(`${name}.${member}: missing`);
        else if (mine.members.get(member) !== what) problems.push(`${name}.${member}: ${mine.members.get(member)}, Mux's is ${what}`);
      }
      // The same base class (MuxError for the errors, Track for tracks); EventEmitter is ours.
      const base = (h) => h.filter((x) => x !== 'EventEmitter' && !x.startsWith('TypedEventEmitter'));
      assert.deepEqual(base(mine.heritage), base(theirs.heritage), `${name} extends`);
    }
    if (theirs.kind === 'enum') assert.deepEqual([...mine.members], [...theirs.members], `enum ${name}`);
    if (theirs.kind === 'function') assert.deepEqual(mine.params, theirs.params, `${name}()`);
    if (theirs.kind === 'interface' || theirs.kind === 'type') {
      for (const [member, optional] of theirs.members) {
        if (!mine.members.has(member)) problems.push(`${name}.${member}: missing`);
        else if (mine.members.get(member) !== optional) problems.push(`${name}.${member}: optional ${mine.members.get(member)}, Mux's ${optional}`);
      }
    }
  }
  assert.deepEqual(problems, []);
  const extra = [...ours.keys()].filter((n) => !mux.has(n));
  t.diagnostic(`${mux.size} exports match; ours also exports: ${extra.join(', ')}`);
});

test('the ES module exports at runtime every name the Mux bundle exports', () => {
  const text = fs.readFileSync(MUX_ESM, 'utf8');
  const list = /export\s*\{([^}]*)\}\s*;?\s*$/.exec(text.trim());
  assert.ok(list, 'the export list of the Mux bundle');
  const names = list[1].split(',').map((s) => s.trim().split(/\s+as\s+/).pop()).filter(Boolean);
  assert.ok(names.length >= 30);
  assert.deepEqual(names.filter((n) => !(n in SDK)), []);
  for (const n of names) assert.notEqual(SDK[n], undefined, n);
});

test('every error class is a MuxError with its own name', () => {
  const errors = Object.entries(SDK).filter(([, v]) => typeof v === 'function' && v.prototype instanceof Error);
  assert.ok(errors.length >= 16);
  for (const [name, Class] of errors) {
    const e = new Class('boom');
    assert.ok(e instanceof SDK.MuxError, name);
    assert.ok(e instanceof Error, name);
    assert.equal(e.name, name);
    assert.equal(e.message, 'boom');
    assert.equal(typeof e.code, 'number');
  }
});

test('typed events: tests/sdk/types/usage.ts compiles against our declarations (and its @ts-expect-error lines are errors)', () => {
  const tsc = path.join(sdkDir, 'node_modules/typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(repo, 'tests/sdk/types/tsconfig.json')], { encoding: 'utf8' });
  } catch (e) {
    assert.fail(`tsc: ${e.stdout}${e.stderr}`);
  }
});
