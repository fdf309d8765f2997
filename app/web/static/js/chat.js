// The student chat page: pick a course, ask, watch the answer stream in, follow its sources to
// the page of the PDF. Talks to the server only through the TypeScript client (compiled into
// /static/client/), which owns the socket, keep-alive, reconnects, cancel and resume.
import { TutorClient, TutorError } from '/static/client/client.js';
import { applyStatic, bindSwitch, t } from './i18n.js';
import { askUserId, establish, forgetUser } from './identity.js';
import { renderMarkdown } from './markdown.js';
import { local } from './storage.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const embedded = params.get('embed') === '1';
const COURSE_KEY = 'tutor.course';

const state = {
  client: null,
  identity: null,
  courses: [],
  courseId: null,
  roomId: null,
  stream: null,
  feedback: false,
  // rooms asked in from this page that the server may not have stored yet (it records turns
  // just after the answer): shown at once, merged with the server's list
  pending: new Map(),
  // page context: the PDF page the student has open beside the chat (widget host or URL)
  context: { materialId: params.get('material_id'), page: Number(params.get('page')) || null },
};

// --- small DOM helpers ------------------------------------------------------------------------
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key in node && typeof value !== 'string') node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function newRoomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `room-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function seconds(ms) {
  return (ms / 1000).toFixed(ms < 10000 ? 1 : 0);
}

// --- identity ---------------------------------------------------------------------------------
function showWho() {
  const who = $('who');
  who.replaceChildren(t('signedInAs', { user: state.identity.userId }));
  if (state.identity.mode === 'none') {
    const change = el('button', { type: 'button', class: 'link' }, t('changeUser'));
    change.addEventListener('click', () => {
      forgetUser();
      location.reload();
    });
    who.append(' ', change);
  }
}

// --- courses ----------------------------------------------------------------------------------
function describeCourse(course) {
  const pages = course.materials.reduce((sum, m) => sum + m.pages, 0);
  return t('materials', { n: course.materials.length, pages });
}

function fillCourses() {
  const select = $('course');
  const options = state.courses.map((c) =>
    el('option', { value: c.course_id }, `${c.title}${c.language ? ` (${c.language})` : ''}`),
  );
  select.replaceChildren(el('option', { value: '', disabled: true }, t('chooseCourse')), ...options);
  select.value = state.courseId ?? '';
  const course = state.courses.find((c) => c.course_id === state.courseId);
  $('course-info').textContent = course ? `${course.course_id} · ${describeCourse(course)}` : '';
}

async function loadCourses() {
  const { courses } = await state.client.courses();
  state.courses = courses;
  const wanted = params.get('course_id') || params.get('course') || local.get(COURSE_KEY);
  const known = courses.find((c) => c.course_id === wanted);
  state.courseId = known ? known.course_id : courses[0]?.course_id ?? null;
  fillCourses();
}

async function chooseCourse(courseId) {
  state.courseId = courseId;
  local.set(COURSE_KEY, courseId);
  fillCourses();
  state.client.setCourse(courseId);
  startNewChat();
  await state.client.reconnectNow().catch(showConnectError);
  await loadRooms();
}

// --- rooms (sidebar) --------------------------------------------------------------------------
async function loadRooms() {
  const list = $('rooms');
  try {
    const { rooms: stored } = await state.client.rooms(state.courseId);
    for (const room of stored) state.pending.delete(room.chatroom_id);
    const rooms = [...state.pending.values()].filter((r) => r.course_id === state.courseId).concat(stored);
    if (!rooms.length) {
      list.replaceChildren(el('li', { class: 'muted' }, t('noRooms')));
      return;
    }
    list.replaceChildren(
      ...rooms.map((room) => {
        const button = el('button', { type: 'button', class: 'room', dataset: { room: room.chatroom_id } }, room.title);
        if (room.chatroom_id === state.roomId) button.setAttribute('aria-current', 'true');
        button.addEventListener('click', () => openRoom(room.chatroom_id));
        return el('li', {}, button);
      }),
    );
  } catch (error) {
    list.replaceChildren(el('li', { class: 'muted' }, t('loadFailed', { msg: error.message })));
  }
}

async function openRoom(roomId) {
  state.roomId = roomId;
  closeMenu();
  const { turns } = await state.client.roomTurns(roomId);
  clearLog();
  for (const turn of turns) {
    const view = addExchange(turn.query);
    view.answer.replaceChildren(renderMarkdown(turn.answer));
    finishView(view, {
      sources: turn.sources,
      cached: turn.cached,
      personalized: turn.personalized,
      notCovered: turn.response_source === 'not_covered',
      curated: turn.response_source === 'curated',
      tokens: turn.input_tokens + turn.output_tokens,
      cost: turn.cost_usd,
      latency: turn.latency_ms,
      turnId: turn.turn_id,
      stopped: turn.status === 'cancelled',
    });
  }
  await loadRooms();
}

function startNewChat() {
  state.roomId = newRoomId();
  clearLog();
  for (const b of document.querySelectorAll('.room[aria-current]')) b.removeAttribute('aria-current');
}

// --- the log ----------------------------------------------------------------------------------
function clearLog() {
  $('log').replaceChildren($('empty'));
  $('empty').hidden = false;
}

function addExchange(query) {
  $('empty').hidden = true;
  for (const old of document.querySelectorAll('[data-testid="answer"]')) {
    old.dataset.testid = 'answer-previous';
    old.removeAttribute('aria-live');
  }
  const node = $('exchange-tpl').content.firstElementChild.cloneNode(true);
  const part = (role) => node.querySelector(`[data-role="${role}"]`);
  part('who-you').textContent = `${t('you')}: `;
  part('who-tutor').textContent = `${t('tutor')}: `;
  part('query').textContent = query;
  const answer = part('answer');
  answer.dataset.testid = 'answer';
  $('log').append(node);
  node.scrollIntoView({ block: 'end' });
  return {
    node,
    answer,
    badges: part('badges'),
    error: part('error'),
    sources: part('sources'),
    sourcesTitle: part('sources-title'),
    sourceList: part('source-list'),
    meta: part('meta'),
    feedback: part('feedback'),
  };
}

function badge(text, kind) {
  return el('span', { class: `badge ${kind}`, dataset: { badge: kind } }, text);
}

function sourceItem(source) {
  const meta = source.metadata;
  const pageNumber = meta.page_number || 1;
  const link = el('a', { href: state.client.pdfUrl(meta.course_id, meta.material_id, pageNumber), target: '_blank', rel: 'noopener' });
  link.append(meta.title || meta.filename);
  link.setAttribute('aria-label', `${meta.title || meta.filename}, ${t('openPdf', { page: meta.page_label || pageNumber })}`);
  if (state.identity?.mode !== 'none') {
    // under authentication a plain link carries no identity: fetch with the bearer, open a blob
    link.addEventListener('click', async (event) => {
      event.preventDefault();
      const tab = window.open('', '_blank');
      try {
        const url = await state.client.pdfBlobUrl(meta.course_id, meta.material_id, pageNumber);
        if (tab) tab.location.href = url;
      } catch (error) {
        tab?.close();
        showConnectError(error);
      }
    });
  }
  const snippet = source.content.length > 240 ? `${source.content.slice(0, 239)}…` : source.content;
  // a lecturer's reference may name a whole material (no page); its pages were chosen, not ranked
  const head = meta.page_label
    ? [link, ' ', el('span', { class: 'page', dataset: { testid: 'source-page' } }, t('page', { label: meta.page_label }))]
    : [link];
  const curated = meta.chunk_type === 'curated_reference';
  return el(
    'li',
    { class: 'source', dataset: { testid: 'source' } },
    el('div', { class: 'source-head' }, ...head),
    el('div', { class: 'source-meta' }, ...(curated ? [meta.filename] : [meta.filename, ' · ', t('relevance', { pct: Math.round(meta.score * 100) })])),
    el('p', { class: 'snippet' }, snippet), // text, never HTML: PDF text is untrusted
  );
}

function finishView(view, result) {
  view.answer.setAttribute('aria-busy', 'false');
  view.badges.replaceChildren(
    ...[
      result.cached && badge(t('cached'), 'cached'),
      result.personalized && badge(t('personalized'), 'personalized'),
      result.notCovered && badge(t('notCovered'), 'not-covered'),
      result.curated && badge(t('curated'), 'curated'),
      result.stopped && badge(t('stopped'), 'stopped'),
      result.revised && badge(t('revised'), 'revised'),
    ].filter(Boolean),
  );
  const sources = result.sources ?? [];
  view.sources.hidden = sources.length === 0;
  view.sourcesTitle.textContent = `${t('sources')} (${sources.length})`;
  view.sourceList.replaceChildren(...sources.map(sourceItem));
  const parts = [];
  if (result.tokens != null) parts.push(t('tokens', { n: result.tokens }));
  if (result.cost != null) parts.push(t('cost', { cost: result.cost.toFixed(6) }));
  if (result.latency != null) parts.push(t('latency', { s: seconds(result.latency) }));
  view.meta.textContent = parts.join(' · ');
  if (state.feedback && result.turnId) addFeedback(view, result.turnId);
}

function addFeedback(view, turnId) {
  const done = (node) => view.feedback.replaceChildren(node);
  const send = async (rating, comment) => {
    for (const b of view.feedback.querySelectorAll('button, textarea')) b.disabled = true;
    try {
      await state.client.feedback(turnId, rating, comment || undefined);
      done(el('span', { class: 'muted', role: 'status', dataset: { testid: 'feedback-thanks' } }, t('thanks')));
    } catch (error) {
      view.feedback.append(el('span', { class: 'error', role: 'alert' }, error.message));
    }
  };
  const up = el('button', { type: 'button', class: 'icon', 'aria-label': t('helpful'), dataset: { testid: 'thumbs-up' } }, '👍');
  const down = el('button', { type: 'button', class: 'icon', 'aria-label': t('notHelpful'), dataset: { testid: 'thumbs-down' } }, '👎');
  up.addEventListener('click', () => send('up'));
  down.addEventListener('click', () => {
    // a thumbs-down asks what was wrong (optional): it goes to the lecturer's review queue
    const comment = el('textarea', { rows: '2', maxlength: '1000', 'aria-label': t('whatWasWrong'), placeholder: t('whatWasWrong'), dataset: { testid: 'feedback-comment' } });
    const submit = el('button', { type: 'button', class: 'primary', dataset: { testid: 'feedback-send' } }, t('send'));
    submit.addEventListener('click', () => send('down', comment.value.trim()));
    done(el('div', { class: 'feedback-form' }, comment, submit));
    comment.focus();
  });
  view.feedback.replaceChildren(up, down);
  view.feedback.hidden = false;
}

function showError(view, frame) {
  view.error.hidden = false;
  view.error.textContent = `${t('errorPrefix')}: ${frame.error}${frame.suggestion ? ` — ${frame.suggestion}` : ''}`;
}

// --- asking -----------------------------------------------------------------------------------
function setBusy(busy) {
  $('send').disabled = busy;
  $('stop').hidden = !busy;
  $('question').setAttribute('aria-disabled', String(busy));
}

async function ask(query) {
  const view = addExchange(query);
  setBusy(true);
  let text = '';
  let scheduled = false;
  const paint = () => {
    scheduled = false;
    view.answer.replaceChildren(renderMarkdown(text));
  };
  const stream = state.client.ask(query, {
    personalize: $('personalize').checked,
    chatroomId: state.roomId,
    materialId: state.context.materialId,
    page: state.context.page,
  });
  state.stream = stream;
  try {
    for await (const frame of stream) {
      if (frame.type === 'chat_chunk') {
        text += frame.chunk;
        if (!scheduled) {
          scheduled = true;
          requestAnimationFrame(paint);
        }
      } else if (frame.type === 'chat_response') {
        text = frame.response; // the checked text: it replaces what streamed when they differ
        paint();
        finishView(view, {
          revised: Boolean(frame.metadata.revised) && frame.response_source !== 'not_covered',
          sources: frame.sources,
          cached: frame.cached,
          personalized: frame.metadata.personalized,
          notCovered: frame.response_source === 'not_covered',
          curated: frame.response_source === 'curated',
          tokens: frame.token_usage.total_tokens,
          cost: frame.metadata.cost_usd,
          latency: frame.latency_ms,
          turnId: frame.metadata.turn_id,
          stopped: Boolean(frame.metadata.cancelled),
        });
      } else if (frame.type === 'error') {
        view.answer.setAttribute('aria-busy', 'false');
        showError(view, frame);
      }
    }
    if (stream.cancelled && view.answer.getAttribute('aria-busy') === 'true') {
      paint();
      finishView(view, { stopped: true });
    }
  } catch (error) {
    view.answer.setAttribute('aria-busy', 'false');
    showError(view, { error: error.message, suggestion: error.frame?.suggestion });
  } finally {
    state.stream = null;
    setBusy(false);
    view.node.scrollIntoView({ block: 'end' });
    if (!state.pending.has(state.roomId) && !document.querySelector(`.room[data-room="${CSS.escape(state.roomId)}"]`)) {
      state.pending.set(state.roomId, { chatroom_id: state.roomId, course_id: state.courseId, title: query });
    }
    loadRooms();
  }
}

// --- connection status ------------------------------------------------------------------------
function showState({ state: s, attempt, delayMs }) {
  const conn = $('conn');
  conn.dataset.state = s;
  if (s === 'open') conn.textContent = t('connected');
  else if (s === 'connecting') conn.textContent = t('connecting');
  else if (s === 'reconnecting') conn.textContent = t('reconnecting', { s: seconds(delayMs ?? 0), n: attempt ?? 1 });
  else if (s === 'closed') conn.textContent = t('closed');
}

function showConnectError(error) {
  const conn = $('conn');
  conn.dataset.state = 'error';
  const frame = error instanceof TutorError ? error.frame : null;
  conn.textContent = `${t('errorPrefix')}: ${error.message}${frame?.suggestion ? ` — ${frame.suggestion}` : ''}`;
}

// --- menu (sidebar on phones) -----------------------------------------------------------------
function closeMenu() {
  document.body.classList.remove('menu-open');
  $('menu').setAttribute('aria-expanded', 'false');
}

function bindUi() {
  $('menu').addEventListener('click', () => {
    const open = document.body.classList.toggle('menu-open');
    $('menu').setAttribute('aria-expanded', String(open));
    if (open) $('new-chat').focus();
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      if (state.stream) state.stream.cancel();
      closeMenu();
    }
  });
  $('new-chat').addEventListener('click', () => {
    startNewChat();
    closeMenu();
    $('question').focus();
  });
  $('course').addEventListener('change', () => chooseCourse($('course').value));
  $('stop').addEventListener('click', () => state.stream?.cancel());
  $('composer').addEventListener('submit', (event) => {
    event.preventDefault();
    const query = $('question').value.trim();
    if (!query || state.stream) return;
    $('question').value = '';
    ask(query);
  });
  $('question').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $('composer').requestSubmit();
    }
  });
  // the embedding page (widget.js) may tell us which PDF page the student has open
  window.addEventListener('message', (event) => {
    const data = event.data;
    if (event.source === window.parent && data?.type === 'tutor:page') {
      state.context = { materialId: data.material_id ?? null, page: Number(data.page) || null };
    }
  });
}

async function main() {
  if (embedded) document.body.classList.add('embedded');
  bindSwitch($('lang'), () => {
    fillCourses();
    if (state.identity) showWho();
  });
  applyStatic();
  bindUi();
  state.client = new TutorClient({ url: location.origin, courseId: params.get('course_id') });
  state.client.on('state', showState);
  state.client.on('error', (frame) => showConnectError(new TutorError(frame.error_code, frame.error, undefined, frame)));
  try {
    state.identity = await establish(state.client, askUserId);
  } catch (error) {
    showConnectError(new Error(t('sessionFailed', { msg: error.message })));
    return;
  }
  showWho();
  try {
    await loadCourses();
  } catch (error) {
    showConnectError(new Error(t('loadFailed', { msg: error.message })));
    return;
  }
  state.feedback = await state.client.supports('feedback'); // this server lists it (added type)
  state.client.setCourse(state.courseId);
  startNewChat();
  state.client.connect().catch(showConnectError);
  await loadRooms();
  document.body.dataset.ready = 'true';
}

main();
