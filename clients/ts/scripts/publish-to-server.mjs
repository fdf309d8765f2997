// Copy the compiled client into the server's static folder, where the chat page imports it
// (/static/client/*.js), so running the server needs no Node.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, '..', '..', 'app', 'web', 'static', 'client');
mkdirSync(out, { recursive: true });
for (const name of readdirSync(join(root, 'dist'))) {
  if (name.endsWith('.js')) copyFileSync(join(root, 'dist', name), join(out, name));
}
