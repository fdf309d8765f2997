// Copy the pinned browser builds and their licences from node_modules into the package's static
// folder, and write a manifest the server's tests check against package.json.
// Run: npm ci && node vendor.mjs   (from this folder)
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'app', 'web', 'static', 'vendor');

// package -> [file in the package, name served]; licences are copied as they are named
const FILES = {
  marked: { files: [['lib/marked.esm.js', 'marked.esm.js']], licences: ['LICENSE'] },
  dompurify: { files: [['dist/purify.es.mjs', 'purify.es.mjs']], licences: ['LICENSE'] },
  'chart.js': {
    files: [['dist/chart.umd.min.js', 'chart.umd.min.js']],
    licences: ['LICENSE.md'],
    // bundled inside the UMD build
    bundled: { '@kurkle/color': ['LICENSE.md'] },
  },
};

function version(pkg) {
  return JSON.parse(readFileSync(join(here, 'node_modules', pkg, 'package.json'), 'utf8')).version;
}

rmSync(out, { recursive: true, force: true });
const manifest = {};
for (const [pkg, spec] of Object.entries(FILES)) {
  const v = version(pkg);
  const dir = `${pkg.replace(/[^a-z0-9.]/gi, '')}-${v}`;
  mkdirSync(join(out, dir), { recursive: true });
  for (const [from, to] of spec.files) copyFileSync(join(here, 'node_modules', pkg, from), join(out, dir, to));
  const licences = [];
  for (const name of spec.licences) {
    copyFileSync(join(here, 'node_modules', pkg, name), join(out, dir, name));
    licences.push(name);
  }
  for (const [dep, names] of Object.entries(spec.bundled ?? {})) {
    for (const name of names) {
      const target = `${dep.replace(/[^a-z0-9.]/gi, '')}-${version(dep)}-${name}`;
      copyFileSync(join(here, 'node_modules', dep, name), join(out, dir, target));
      licences.push(target);
    }
  }
  manifest[pkg] = { version: v, dir, files: spec.files.map(([, to]) => to), licences };
}
writeFileSync(join(out, 'VENDOR.json'), JSON.stringify(manifest, null, 2) + '\n');
console.log(`vendored into ${out}:`, Object.entries(manifest).map(([p, m]) => `${p}@${m.version}`).join(', '));
