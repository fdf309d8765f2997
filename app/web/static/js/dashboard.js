// The lecturer dashboard: what students asked and how the tutor did, per course or overall, for a
// date range. Numbers come from GET /api/stats (staff only); charts are drawn by the vendored
// Chart.js (loaded as a classic script before this module runs).
import { TutorClient } from '/static/client/client.js';
import { applyStatic, bindSwitch, lang, t } from './i18n.js';
import { askUserId, establish } from './identity.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const charts = new Map();
let client;
let identity;
let last = null;

const COLORS = { rag: '#1d5fd1', cache: '#1e7d3a', notCovered: '#c77700', failed: '#b3261e', p50: '#1d5fd1', p95: '#8e44ad', first50: '#1e7d3a', first95: '#c77700' };

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function number(value, digits = 0) {
  if (value == null) return '–';
  return new Intl.NumberFormat(lang(), { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(value);
}

function percent(value) {
  return `${number(value * 100, 1)}%`;
}

function cell(tag, text) {
  const node = document.createElement(tag);
  node.textContent = text;
  return node;
}

function card(label, value, testid) {
  const li = document.createElement('li');
  li.className = 'card';
  if (testid) li.dataset.testid = testid;
  li.append(Object.assign(document.createElement('div'), { className: 'label', textContent: label }));
  li.append(Object.assign(document.createElement('div'), { className: 'value', textContent: value }));
  return li;
}

function query() {
  const q = new URLSearchParams();
  if ($('course').value) q.set('course_id', $('course').value);
  q.set('from', $('from').value);
  q.set('to', $('to').value);
  return q;
}

function csvLinks() {
  for (const table of ['daily', 'models', 'courses']) {
    const q = query();
    q.set('format', 'csv');
    q.set('table', table);
    if (identity.mode === 'none') q.set('user_id', identity.userId);
    const link = $(`csv-${table}`);
    link.href = `/api/stats?${q}`;
    link.onclick =
      identity.mode === 'none'
        ? null
        : async (event) => {
            // under authentication the download carries the bearer: fetch, then save the blob
            event.preventDefault();
            const response = await fetch(link.href, { headers: await client.authHeaders() });
            const url = URL.createObjectURL(await response.blob());
            const a = Object.assign(document.createElement('a'), { href: url, download: `tutor-stats-${table}.csv` });
            a.click();
            URL.revokeObjectURL(url);
          };
  }
}

function draw(id, config) {
  const old = charts.get(id);
  if (old) old.destroy();
  const chart = new window.Chart($(id), { ...config, options: { responsive: true, maintainAspectRatio: false, animation: false, spanGaps: true, ...config.options } });
  charts.set(id, chart);
}

/** Every day of the range, with the days nobody asked anything as empty entries. */
function allDays(report) {
  const byDay = new Map(report.daily.map((d) => [d.date, d]));
  const empty = { questions: 0, completed: 0, failed: 0, cancelled: 0, cache_hits: 0, not_covered: 0, cache_hit_rate: null, not_covered_rate: null, latency_ms: {}, first_chunk_ms: {} };
  const days = [];
  for (let day = new Date(`${report.from}T00:00:00Z`); isoDay(day) <= report.to; day = new Date(day.getTime() + 86400000)) {
    days.push(byDay.get(isoDay(day)) ?? { ...empty, date: isoDay(day) });
  }
  return days;
}

function render(report) {
  last = report;
  const daily = allDays(report);
  const totals = report.totals;
  $('cards').replaceChildren(
    card(t('questions'), number(totals.questions), 'total-questions'),
    card(t('users'), number(totals.users)),
    card(t('cacheHitRate'), percent(totals.cache_hit_rate), 'cache-hit-rate'),
    card(t('notCoveredRate'), percent(totals.not_covered_rate)),
    card(t('latencyP'), `${number(totals.latency_ms.p50)} / ${number(totals.latency_ms.p95)} ms`),
    card(t('firstChunkP'), `${number(totals.first_chunk_ms.p50)} / ${number(totals.first_chunk_ms.p95)} ms`),
    card(t('tokensTotal'), `${number(totals.input_tokens)} / ${number(totals.output_tokens)}`),
    card(t('costTotal'), `$${number(totals.cost_usd, 4)}`),
    card(t('connectionsNow'), number(report.connections_now)),
  );
  const days = daily.map((d) => d.date);
  draw('chart-questions', {
    type: 'bar',
    data: {
      labels: days,
      datasets: [
        { label: t('fromMaterial'), data: daily.map((d) => d.completed - d.cache_hits - d.not_covered), backgroundColor: COLORS.rag },
        { label: t('fromCache'), data: daily.map((d) => d.cache_hits), backgroundColor: COLORS.cache },
        { label: t('notCovered'), data: daily.map((d) => d.not_covered), backgroundColor: COLORS.notCovered },
        { label: t('failed'), data: daily.map((d) => d.failed + d.cancelled), backgroundColor: COLORS.failed },
      ],
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  });
  draw('chart-latency', {
    type: 'line',
    data: {
      labels: days,
      datasets: [
        { label: 'p50', data: daily.map((d) => d.latency_ms.p50 ?? null), borderColor: COLORS.p50, backgroundColor: COLORS.p50 },
        { label: 'p95', data: daily.map((d) => d.latency_ms.p95 ?? null), borderColor: COLORS.p95, backgroundColor: COLORS.p95 },
        { label: `${t('firstChunkP').split(' ')[0]} p50`, data: daily.map((d) => d.first_chunk_ms.p50 ?? null), borderColor: COLORS.first50, backgroundColor: COLORS.first50, borderDash: [4, 3] },
        { label: `${t('firstChunkP').split(' ')[0]} p95`, data: daily.map((d) => d.first_chunk_ms.p95 ?? null), borderColor: COLORS.first95, backgroundColor: COLORS.first95, borderDash: [4, 3] },
      ],
    },
    options: { scales: { y: { beginAtZero: true } } },
  });
  draw('chart-models', {
    type: 'bar',
    data: {
      labels: report.models.map((m) => m.model),
      datasets: [
        { label: t('inputTokens'), data: report.models.map((m) => m.input_tokens), backgroundColor: COLORS.rag },
        { label: t('outputTokens'), data: report.models.map((m) => m.output_tokens), backgroundColor: COLORS.p95 },
      ],
    },
    options: { indexAxis: 'y', scales: { x: { beginAtZero: true } } },
  });
  draw('chart-rates', {
    type: 'line',
    data: {
      labels: days,
      datasets: [
        { label: t('cacheHitRate'), data: daily.map((d) => d.cache_hit_rate == null ? null : d.cache_hit_rate * 100), borderColor: COLORS.cache, backgroundColor: COLORS.cache },
        { label: t('notCoveredRate'), data: daily.map((d) => d.not_covered_rate == null ? null : d.not_covered_rate * 100), borderColor: COLORS.notCovered, backgroundColor: COLORS.notCovered },
      ],
    },
    options: { scales: { y: { beginAtZero: true, max: 100, ticks: { callback: (v) => `${v}%` } } } },
  });
  table($('models-table'), [t('model'), t('turns'), t('inputTokens'), t('outputTokens'), t('costTotal')],
    report.models.map((m) => [m.model, number(m.turns), number(m.input_tokens), number(m.output_tokens), `$${number(m.cost_usd, 6)}`]));
  table($('courses-table'), [t('course'), t('questions'), t('cacheHitRate'), t('notCoveredRate'), t('costTotal')],
    report.courses.map((c) => [c.course_id ?? '–', number(c.questions), percent(c.completed ? c.cache_hits / c.completed : 0), percent(c.completed ? c.not_covered / c.completed : 0), `$${number(c.cost_usd, 6)}`]));
  $('status').textContent = totals.questions ? '' : t('noData');
}

function table(node, head, rows) {
  const thead = document.createElement('thead');
  const tr = document.createElement('tr');
  tr.append(...head.map((h) => cell('th', h)));
  thead.append(tr);
  const tbody = document.createElement('tbody');
  for (const row of rows) {
    const line = document.createElement('tr');
    line.append(...row.map((v) => cell('td', v)));
    tbody.append(line);
  }
  node.replaceChildren(thead, tbody);
}

/** The lecturer's other pages, on the same course and range. */
function navLinks() {
  const q = query();
  for (const a of document.querySelectorAll('.dash-nav a[data-section]')) a.href = `/dashboard/${a.dataset.section}?${q}`;
}

async function load() {
  $('status').textContent = '…';
  csvLinks();
  navLinks();
  try {
    render(await client.request(`/api/stats?${query()}`));
    document.body.dataset.ready = 'true';
  } catch (error) {
    $('status').textContent = error.status === 403 ? t('staffOnly') : t('loadFailed', { msg: error.message });
  }
}

async function main() {
  bindSwitch($('lang'), () => last && render(last));
  applyStatic();
  const today = new Date();
  $('to').value = params.get('to') || isoDay(today);
  $('from').value = params.get('from') || isoDay(new Date(today.getTime() - 29 * 86400000));
  client = new TutorClient({ url: location.origin });
  try {
    identity = await establish(client, askUserId);
  } catch (error) {
    $('status').textContent = t('sessionFailed', { msg: error.message });
    return;
  }
  const select = $('course');
  select.append(Object.assign(document.createElement('option'), { value: '', textContent: t('allCourses') }));
  try {
    const { courses } = await client.courses();
    for (const c of courses) select.append(Object.assign(document.createElement('option'), { value: c.course_id, textContent: c.title }));
  } catch (error) {
    $('status').textContent = t('loadFailed', { msg: error.message });
  }
  select.value = params.get('course_id') || '';
  $('filters').addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  select.addEventListener('change', load);
  await load();
}

main();
