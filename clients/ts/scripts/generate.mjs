// schema/protocol.schema.json (written by `python -m app.api.client_schema`) -> src/protocol.ts
// `node scripts/generate.mjs --check` exits 1 when src/protocol.ts is not what it would write.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'src', 'protocol.ts');

export async function render() {
  const schema = JSON.parse(readFileSync(join(root, 'schema', 'protocol.schema.json'), 'utf8'));
  return compile(schema, 'TutorProtocol', {
    bannerComment:
      '/* Generated from the server\'s protocol models by scripts/generate.mjs: do not edit.\n' +
      ' * Regenerate: python -m app.api.client_schema > schema/protocol.schema.json && npm run generate */',
    additionalProperties: false,
    strictIndexSignatures: true,
    unreachableDefinitions: true,
    style: { singleQuote: true, printWidth: 100 },
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = await render();
  if (process.argv.includes('--check')) {
    if (readFileSync(target, 'utf8') !== text) {
      console.error('src/protocol.ts is stale: run npm run generate');
      process.exit(1);
    }
  } else {
    writeFileSync(target, text);
  }
}
