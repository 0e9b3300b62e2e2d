// Builds Oriel's dashboard (the web app served at /) with esbuild:
//
//   dist/index.html   the app shell, served for every dashboard page
//   dist/app.js       the app (Preact), served at /dashboard/assets/app.js
//   dist/app.css      its one style sheet, served at /dashboard/assets/app.css
//
// All three are committed: the server embeds them with include_str!, so `cargo build` needs
// no node, and nothing is loaded from a CDN at runtime.
//
//   node build.mjs            build dist/
//   node build.mjs --check    build in memory and fail if the committed dist/ differs
//                             (someone changed src/ without running the build)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.dirname(fileURLToPath(import.meta.url));
const check = process.argv.includes('--check');
const note = 'Built from dashboard/ by `npm run build` (esbuild); do not edit: change the sources and rebuild.';

/** The committed files, as the build makes them: [relative path, text]. */
async function outputs() {
  const app = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [path.join(root, 'src/main.tsx')],
    bundle: true,
    format: 'iife',
    target: 'es2020',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    charset: 'utf8',
    legalComments: 'none',
    banner: { js: `// Oriel dashboard. ${note}` },
    outfile: path.join(root, 'dist/app.js'),
    write: false,
    logLevel: 'warning',
  });
  const css = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [path.join(root, 'src/app.css')],
    bundle: true,
    minify: true,
    charset: 'utf8',
    banner: { css: `/* Oriel dashboard. ${note} */` },
    outfile: path.join(root, 'dist/app.css'),
    write: false,
    logLevel: 'warning',
  });
  const files = [...app.outputFiles, ...css.outputFiles].map((f) => [path.relative(root, f.path), f.text]);
  files.push(['dist/index.html', fs.readFileSync(path.join(root, 'src/index.html'), 'utf8')]);
  return files;
}

const files = await outputs();
if (check) {
  let stale = 0;
  for (const [rel, text] of files) {
    const file = path.join(root, rel);
    const onDisk = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    if (onDisk !== text) {
      console.error(`dashboard/${rel} is stale: run \`npm run build\` in dashboard/ and commit the result`);
      stale++;
    } else {
      console.log(`dashboard/${rel} is up to date (${Buffer.byteLength(text)} bytes)`);
    }
  }
  process.exit(stale ? 1 : 0);
}
fs.mkdirSync(path.join(root, 'dist'), { recursive: true });
for (const [rel, text] of files) fs.writeFileSync(path.join(root, rel), text);
console.log(`built ${files.map(([rel]) => rel).join(', ')}`);
