// Builds Oriel's Web SDK and the meeting page with esbuild (and tsc for the declarations):
//
//   dist/spaces.js       the browser script (IIFE, global `OrielSpaces`), served by Oriel at
//                        GET /sdk/spaces.js — committed: the Rust build embeds it without node
//   dist/demo.js         the meeting page's script (uses the global `OrielSpaces`), served at
//                        GET /demo/demo.js — committed for the same reason
//   dist/esm/index.mjs   the ES module
//   dist/types/          the type declarations (tsc --emitDeclarationOnly)
//
//   node build.mjs            build everything
//   node build.mjs --check    rebuild the committed files in memory and fail if they differ
//                             (someone changed src/ or demo/ without running the build)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.dirname(fileURLToPath(import.meta.url));
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const check = process.argv.includes('--check');

const common = {
  // Paths in the output's comments are relative to this, whatever the caller's directory.
  absWorkingDir: root,
  bundle: true,
  target: 'es2020',
  charset: 'utf8',
  legalComments: 'none',
  keepNames: true,
  logLevel: 'warning',
  write: false,
};

const note = 'Built from sdk/web by `npm run build` (esbuild); do not edit: change the sources and rebuild.';

/** The files that are committed, as esbuild makes them. */
async function committed() {
  const sdk = await esbuild.build({
    ...common,
    entryPoints: [path.join(root, 'src/index.ts')],
    format: 'iife',
    globalName: 'OrielSpaces',
    banner: { js: `// Oriel Spaces Web SDK ${pkg.version}: the API of @mux/spaces-web 1.2.0 as the global \`OrielSpaces\`.\n// ${note}` },
    outfile: path.join(root, 'dist/spaces.js'),
  });
  const demo = await esbuild.build({
    ...common,
    entryPoints: [path.join(root, 'demo/demo.ts')],
    format: 'iife',
    banner: { js: `// Oriel meeting page (GET /demo). ${note}` },
    outfile: path.join(root, 'dist/demo.js'),
  });
  return [...sdk.outputFiles, ...demo.outputFiles];
}

if (check) {
  let stale = 0;
  for (const file of await committed()) {
    const rel = path.relative(root, file.path);
    const onDisk = fs.existsSync(file.path) ? fs.readFileSync(file.path, 'utf8') : null;
    if (onDisk !== file.text) {
      console.error(`sdk/web/${rel} is stale: run \`npm run build\` in sdk/web and commit the result`);
      stale++;
    } else {
      console.log(`sdk/web/${rel} is up to date (${file.contents.length} bytes)`);
    }
  }
  process.exit(stale ? 1 : 0);
}

fs.mkdirSync(path.join(root, 'dist'), { recursive: true });
for (const file of await committed()) fs.writeFileSync(file.path, file.contents);
await esbuild.build({
  ...common,
  write: true,
  entryPoints: [path.join(root, 'src/index.ts')],
  format: 'esm',
  outfile: path.join(root, 'dist/esm/index.mjs'),
  banner: { js: `// Oriel Spaces Web SDK ${pkg.version} (ES module). ${note}` },
});
fs.rmSync(path.join(root, 'dist/types'), { recursive: true, force: true });
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json'), '--emitDeclarationOnly'], {
  stdio: 'inherit',
});
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', path.join(root, 'demo/tsconfig.json')], {
  stdio: 'inherit',
});
for (const f of ['dist/spaces.js', 'dist/demo.js', 'dist/esm/index.mjs']) {
  console.log(`${f}  ${fs.statSync(path.join(root, f)).size} bytes`);
}
console.log('dist/types/index.d.ts');
