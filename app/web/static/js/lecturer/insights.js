// Insights of a course and date range (GET /courses/{id}/insights): topics with a bar chart,
// questions the material did not cover, downvoted answers with comments, the most cited pages
// (linked to the PDF at that page), and the digest of the same range as HTML or Markdown.
import { t } from '../i18n.js';
import { count, el, emptyItem, failure, pageLink, when } from './common.js';

const $ = (id) => document.getElementById(id);
const BAR = '#1d5fd1';

function card(label, value, testid) {
  return el('li', { class: 'card', dataset: testid ? { testid } : {} }, el('div', { class: 'label', text: label }), el('div', { class: 'value', text: value }));
}

function examples(list) {
  if (!list.length) return null;
  return el('ul', { class: 'examples' }, ...list.map((q) => el('li', { text: q })));
}

function short(text, limit = 400) {
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

export function insightsSection(ctx) {
  let chart = null;
  let last = null;

  function digestLinks() {
    const q = new URLSearchParams(ctx.range());
    const base = `/courses/${encodeURIComponent(ctx.courseId())}/digest`;
    const html = $('digest-html');
    const md = $('digest-md');
    if (ctx.identity.mode === 'none') q.set('user_id', ctx.identity.userId);
    html.href = `${base}?${q}&format=html`;
    md.href = `${base}?${q}&format=markdown`;
    md.download = `digest-${ctx.courseId()}-${ctx.range().from}.md`;
    const viaBearer = async (event, link, name) => {
      // under authentication a plain link carries no identity: fetch with the bearer, save it
      event.preventDefault();
      try {
        const response = await fetch(link.href, { headers: await ctx.client.authHeaders() });
        if (!response.ok) throw Object.assign(new Error(response.statusText), { status: response.status });
        const url = URL.createObjectURL(await response.blob());
        el('a', { href: url, download: name }).click();
        setTimeout(() => URL.revokeObjectURL(url), 1000);
      } catch (error) {
        ctx.say(failure(error));
      }
    };
    const bearer = ctx.identity.mode !== 'none';
    html.onclick = bearer ? (event) => viaBearer(event, html, `digest-${ctx.courseId()}.html`) : null;
    md.onclick = bearer ? (event) => viaBearer(event, md, md.download) : null;
  }

  function drawTopics(topics) {
    chart?.destroy();
    const canvas = $('chart-topics');
    chart = new window.Chart(canvas, {
      type: 'bar',
      data: {
        labels: topics.map((topic) => (topic.label.length > 32 ? `${topic.label.slice(0, 31)}…` : topic.label)),
        datasets: [{ label: t('questions'), data: topics.map((topic) => topic.questions), backgroundColor: BAR }],
      },
      options: {
        indexAxis: 'y',
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  }

  function render(data) {
    last = data;
    const totals = data.totals;
    $('insight-cards').replaceChildren(
      card(t('questions'), count(totals.questions), 'insight-questions'),
      card(t('users'), count(totals.students)),
      card(t('notCovered'), count(totals.not_covered), 'insight-not-covered'),
      card(t('curatedServed'), count(totals.curated)),
      card(t('ratings'), `${count(totals.upvotes)} / ${count(totals.downvotes)}`),
    );
    drawTopics(data.topics);
    $('topics').replaceChildren(
      ...data.topics.map((topic) =>
        el('li', { dataset: { testid: 'topic' } }, el('strong', { text: topic.label }), ' ', el('span', { class: 'muted', text: t('askedTimes', { n: topic.questions, pct: Math.round(topic.share * 100) }) }), examples(topic.examples)),
      ),
    );
    if (!data.topics.length) $('topics').append(emptyItem(t('noData')));
    if (data.other_questions) $('topics').append(el('li', { class: 'muted', text: t('otherQuestions', { n: data.other_questions }) }));
    $('gaps').replaceChildren(
      ...data.content_gaps.map((gap) =>
        el('li', { dataset: { testid: 'gap' } }, el('span', { class: 'quote', text: gap.question }), ' ', el('span', { class: 'muted', text: t('gapCount', { n: gap.count, students: gap.students, when: when(gap.last_asked) }) }), examples(gap.examples.filter((q) => q !== gap.question))),
      ),
    );
    if (!data.content_gaps.length) $('gaps').append(emptyItem(t('noGaps')));
    $('downvoted').replaceChildren(
      ...data.downvoted.map((rated) =>
        el(
          'li',
          { dataset: { testid: 'downvote' } },
          el('div', { class: 'quote', text: rated.question }),
          el('p', { class: 'answer-text', text: short(rated.answer) }),
          rated.comment ? el('p', { class: 'comment', dataset: { testid: 'downvote-comment' } }, el('span', { class: 'sr-only', text: `${t('comment')}: ` }), rated.comment) : el('p', { class: 'muted', text: t('noComment') }),
          el('p', { class: 'muted small', text: [when(rated.rated_at), rated.student, rated.cache_entry ? t('heldForReview') : null].filter(Boolean).join(' · ') }),
        ),
      ),
    );
    if (!data.downvoted.length) $('downvoted').append(emptyItem(t('noDownvotes')));
    $('top-pages').replaceChildren(
      ...data.top_pages.map((page) => el('li', { dataset: { testid: 'top-page' } }, pageLink(ctx, page), ' ', el('span', { class: 'muted', text: t('citedTimes', { n: page.citations }) }))),
    );
    if (!data.top_pages.length) $('top-pages').append(emptyItem(t('noData')));
    // per student only when the course opted in (the API sends null otherwise)
    $('students-panel').hidden = !data.students;
    const head = el('tr', {}, ...[t('student'), t('questions'), t('notCovered')].map((h) => el('th', { scope: 'col', text: h })));
    const rows = (data.students ?? []).map((s) => el('tr', {}, el('td', { text: s.student }), el('td', { text: count(s.questions) }), el('td', { text: count(s.not_covered) })));
    $('students').replaceChildren(el('thead', {}, head), el('tbody', {}, ...rows));
    if (data.truncated) ctx.say(t('truncated'));
  }

  return {
    async load() {
      digestLinks();
      const q = new URLSearchParams(ctx.range());
      render(await ctx.call('GET', `/courses/${encodeURIComponent(ctx.courseId())}/insights?${q}`));
    },
    rerender() {
      if (last) render(last);
    },
  };
}
