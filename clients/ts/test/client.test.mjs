// node --test: the TypeScript client (its compiled dist/) against the real server the Python test
// suite starts (TUTOR_URL), plus checks that the generated and compiled files are current.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { TutorClient, TutorError, backoffDelay } from '../dist/client.js';
import { render } from '../scripts/generate.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const url = process.env.TUTOR_URL;
const server = { skip: url ? false : 'TUTOR_URL not set (run through pytest tests/clients)' };

test('src/protocol.ts is what the schema generates', async () => {
  assert.equal(readFileSync(join(root, 'src', 'protocol.ts'), 'utf8'), await render());
});

test('dist/ and the server copy are the compiled src/', () => {
  const out = mkdtempSync(join(tmpdir(), 'tutor-client-'));
  execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', join(root, 'tsconfig.json'), '--outDir', out]);
  for (const name of readdirSync(out)) {
    const fresh = readFileSync(join(out, name), 'utf8');
    assert.equal(readFileSync(join(root, 'dist', name), 'utf8'), fresh, `dist/${name} is stale: npm run build`);
    if (name.endsWith('.js')) {
      const served = readFileSync(join(root, '..', '..', 'app', 'web', 'static', 'client', name), 'utf8');
      assert.equal(served, fresh, `app/web/static/client/${name} is stale: npm run build`);
    }
  }
});

test('backoff grows exponentially up to its cap', () => {
  const policy = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, maxAttempts: Infinity };
  assert.equal(backoffDelay(1, policy, () => 1), 100);
  assert.equal(backoffDelay(3, policy, () => 1), 400);
  assert.equal(backoffDelay(3, policy, () => 0), 200);
  assert.equal(backoffDelay(10, policy, () => 1), 1000);
});

function client(options = {}) {
  return new TutorClient({ url, userId: 'ts-student', courseId: 'course_tik_01', WebSocket, pingIntervalMs: 500, ...options });
}

test('ask streams typed frames, then sources with pages', server, async () => {
  const tutor = client();
  const frames = [];
  for await (const frame of tutor.ask('Apa itu manajemen infrastruktur TI?', { chatroomId: 'ts-room' })) frames.push(frame);
  const types = frames.map((f) => f.type);
  assert.equal(types[0], 'chat_started');
  assert.equal(types.at(-1), 'chat_response');
  const chunks = frames.filter((f) => f.type === 'chat_chunk');
  assert.deepEqual(chunks.map((c) => c.chunk_index), chunks.map((_, i) => i + 1));
  const final = frames.at(-1);
  assert.equal(chunks.map((c) => c.chunk).join(''), final.response);
  assert.ok(final.sources.length > 0 && final.sources[0].metadata.page_number >= 1);
  assert.match(tutor.pdfUrl('course_tik_01', final.sources[0].metadata.material_id, 3), /\.pdf\?user_id=ts-student#page=3$/);
  // keep-alive pings flow while idle; the HTTP helpers share the identity
  await new Promise((resolve) => setTimeout(resolve, 1200));
  await tutor.ping();
  const { courses } = await tutor.courses();
  assert.ok(courses.some((c) => c.course_id === 'course_tik_01' && c.materials.every((m) => m.pages > 0)));
  const rooms = await tutor.rooms('course_tik_01');
  assert.equal(rooms.user_id, 'ts-student');
  tutor.close();
});

test('cancel stops the answer and the next question still works', server, async () => {
  const tutor = client();
  const states = [];
  tutor.on('state', (s) => states.push(s.state));
  const stream = tutor.ask('Jelaskan perencanaan infrastruktur TI.');
  let chunks = 0;
  for await (const frame of stream) {
    if (frame.type === 'chat_chunk' && ++chunks === 1) await stream.cancel();
  }
  assert.equal(stream.cancelled, true);
  const again = [];
  for await (const frame of tutor.ask('Apa itu pusat data?')) again.push(frame.type);
  assert.equal(again.at(-1), 'chat_response');
  assert.ok(states.includes('open'));
  tutor.close();
});

test('an unknown course is refused, not retried', server, async () => {
  const tutor = client({ courseId: 'no_such_course' });
  await assert.rejects(tutor.connect(), (error) => error instanceof TutorError && error.code === 'UNKNOWN_COURSE');
  const stream = tutor.ask('Apa itu VLAN?');
  await assert.rejects(async () => {
    for await (const _ of stream);
  }, /No material/);
});

test('a dropped connection is re-opened with backoff', server, async () => {
  const tutor = client({ reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
  const states = [];
  tutor.on('state', (s) => states.push(s.state));
  await tutor.connect();
  tutor.ws.close(4001, 'test drop'); // as if the network went away
  await new Promise((resolve) => {
    const off = tutor.on('connection', () => {
      off();
      resolve();
    });
  });
  assert.deepEqual(states.slice(-2), ['reconnecting', 'open']);
  tutor.close();
});

test('an answer cut off by a dropped connection is resumed where it stopped', server, async () => {
  const tutor = client({ reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
  const frames = [];
  for await (const frame of tutor.ask('Apa saja komponen pusat data?')) {
    frames.push(frame);
    if (frame.type === 'chat_chunk' && frame.chunk_index === 2) tutor.ws.terminate(); // no close frame
  }
  const final = frames.at(-1);
  assert.equal(final.type, 'chat_response');
  assert.equal(final.metadata.cancelled, false);
  const chunks = frames.filter((f) => f.type === 'chat_chunk');
  assert.deepEqual(
    chunks.map((c) => c.chunk_index),
    Array.from({ length: final.chunks_count }, (_, i) => i + 1),
  );
  assert.equal(chunks.map((c) => c.chunk).join('').trim(), final.response);
  tutor.close();
});
