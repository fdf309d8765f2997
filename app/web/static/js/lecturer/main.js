// The lecturer's pages under /dashboard/<section>: insights, curated answers, the review queue and
// the course's settings. One document; the section, course and date range live in the URL, so
// every view is bookmarkable, and the navigation switches sections without a reload.
import { TutorClient } from '/static/client/client.js';
import { applyStatic, bindSwitch, t } from '../i18n.js';
import { askUserId, establish } from '../identity.js';
import { caller, failure } from './common.js';
import { curatedSection } from './curated.js';
import { insightsSection } from './insights.js';
import { reviewsSection } from './reviews.js';
import { settingsSection } from './settings.js';

const $ = (id) => document.getElementById(id);
const SECTIONS = ['insights', 'curated', 'reviews', 'settings'];
const DATED = new Set(['insights', 'curated']);

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function sectionOf(path) {
  const name = path.replace(/\/+$/, '').split('/').pop();
  return SECTIONS.includes(name) ? name : 'insights';
}

const ctx = {
  client: null,
  identity: null,
  courses: [],
  call: null,
  section: sectionOf(location.pathname),
  courseId: () => $('course').value,
  course: () => ctx.courses.find((c) => c.course_id === $('course').value) ?? null,
  /** `from` / `to` of the date range as the API takes them (`to` inclusive on the page). */
  range: () => {
    const end = new Date(`${$('to').value}T00:00:00Z`);
    return { from: $('from').value, to: isoDay(new Date(end.getTime() + 86400000)) };
  },
  say: (text) => {
    $('status').textContent = text;
  },
  go: (section) => navigate(section, true),
};

const views = {
  insights: insightsSection(ctx),
  curated: curatedSection(ctx),
  reviews: reviewsSection(ctx),
  settings: settingsSection(ctx),
};
ctx.views = views;

function query() {
  const q = new URLSearchParams();
  if (ctx.courseId()) q.set('course_id', ctx.courseId());
  q.set('from', $('from').value);
  q.set('to', $('to').value);
  return q;
}

function links() {
  const q = query();
  for (const a of document.querySelectorAll('.dash-nav a')) {
    const section = a.dataset.section;
    a.href = `${section ? `/dashboard/${section}` : '/dashboard'}?${q}`;
    if (section === ctx.section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function load() {
  document.body.dataset.ready = 'false';
  links();
  for (const label of document.querySelectorAll('.range')) label.hidden = !DATED.has(ctx.section);
  if (!ctx.courseId()) {
    ctx.say(t('noCourses'));
    return;
  }
  ctx.say('…');
  try {
    await views[ctx.section].load();
    ctx.say('');
    document.body.dataset.ready = 'true';
  } catch (error) {
    ctx.say(failure(error));
  }
}

function show() {
  for (const node of document.querySelectorAll('main > section[data-section]')) node.hidden = node.dataset.section !== ctx.section;
  document.title = `${t(`nav${ctx.section[0].toUpperCase()}${ctx.section.slice(1)}`)} · ${t('dashboardTitle')}`;
}

/** Show `section` (and remember it in the address: pushed for a click, replaced otherwise). */
async function navigate(section, push) {
  ctx.section = section;
  const url = `/dashboard/${section}?${query()}`;
  if (push) history.pushState({ section }, '', url);
  else history.replaceState({ section }, '', url);
  show();
  await load();
}

async function main() {
  bindSwitch($('lang'), () => {
    show();
    views[ctx.section].rerender?.();
  });
  applyStatic();
  const params = new URLSearchParams(location.search);
  const today = new Date();
  $('to').value = params.get('to') || isoDay(today);
  $('from').value = params.get('from') || isoDay(new Date(today.getTime() - 6 * 86400000));
  show();
  ctx.client = new TutorClient({ url: location.origin });
  ctx.call = caller(ctx.client);
  try {
    ctx.identity = await establish(ctx.client, askUserId);
  } catch (error) {
    ctx.say(t('sessionFailed', { msg: error.message }));
    return;
  }
  try {
    ctx.courses = (await ctx.client.courses()).courses;
  } catch (error) {
    ctx.say(failure(error));
    return;
  }
  const select = $('course');
  select.replaceChildren(...ctx.courses.map((c) => Object.assign(document.createElement('option'), { value: c.course_id, textContent: c.title || c.course_id })));
  if (params.get('course_id')) select.value = params.get('course_id');
  if (!select.value && ctx.courses.length) select.value = ctx.courses[0].course_id;
  $('filters').addEventListener('submit', (event) => {
    event.preventDefault();
    navigate(ctx.section, false);
  });
  select.addEventListener('change', () => navigate(ctx.section, false));
  for (const a of document.querySelectorAll('.dash-nav a[data-section]')) {
    a.addEventListener('click', (event) => {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      navigate(a.dataset.section, true);
      $('content').focus();
    });
  }
  window.addEventListener('popstate', () => {
    ctx.section = sectionOf(location.pathname);
    show();
    load();
  });
  await navigate(ctx.section, false);
}

main();
