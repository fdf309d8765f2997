// Curated answers of a course: list, write, edit, mark reviewed, delete; and the recent answers
// students got, each of which can become a curated answer (the form is prefilled with its
// question, answer and cited pages; saving goes through POST .../answers/from-turn/{turn_id}).
import { t } from '../i18n.js';
import { renderMarkdown } from '../markdown.js';
import { confirmAction, count, el, emptyItem, failure, pageLink, when } from './common.js';

const $ = (id) => document.getElementById(id);
const CURATABLE = new Set(['rag', 'cache', 'personalized']);

function short(text, limit = 300) {
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

export function curatedSection(ctx) {
  let editing = {}; // {answerId} or {turnId} or {} (a new answer)
  let titleKey = 'newCurated';
  let formCourse = null;
  let answers = [];
  let recent = [];
  const base = () => `/courses/${encodeURIComponent(ctx.courseId())}/answers`;

  // --- the form -------------------------------------------------------------------------------
  function referenceRow(ref = {}) {
    const materials = ctx.course()?.materials ?? [];
    const select = el('select', { class: 'ref-material', dataset: { testid: 'ref-material' } }, ...materials.map((m) => el('option', { value: m.material_id, text: m.title || m.material_id })));
    if (ref.material_id) {
      if (!materials.some((m) => m.material_id === ref.material_id)) select.append(el('option', { value: ref.material_id, text: ref.material_id }));
      select.value = ref.material_id;
    }
    select.setAttribute('aria-label', t('material'));
    const page = el('input', { type: 'number', class: 'ref-page', min: '1', max: '100000', inputmode: 'numeric', value: ref.page ? String(ref.page) : '', dataset: { testid: 'ref-page' } });
    page.setAttribute('aria-label', t('pageNumber'));
    // the browser refuses a page past the material's end before anything is sent
    const limit = () => {
      const pages = materials.find((m) => m.material_id === select.value)?.pages;
      page.max = pages ? String(pages) : '100000';
    };
    select.addEventListener('change', limit);
    limit();
    page.placeholder = t('wholeMaterial');
    const remove = el('button', { type: 'button', class: 'icon', text: '×', dataset: { testid: 'ref-remove' } });
    remove.setAttribute('aria-label', t('removeReference'));
    const row = el('li', { class: 'ref', dataset: { testid: 'ref' } }, select, page, remove);
    remove.addEventListener('click', () => {
      row.remove();
      $('curated-add-ref').focus();
    });
    return row;
  }

  function fill({ question = '', answer = '', references = [], title = 'newCurated', origin = '' }) {
    titleKey = title;
    $('curated-form-title').textContent = t(title);
    $('curated-origin').textContent = origin;
    $('curated-question').value = question;
    $('curated-answer').value = answer;
    $('curated-refs').replaceChildren(...references.map(referenceRow));
  }

  function reset() {
    editing = {};
    fill({});
  }

  function formReferences() {
    return [...$('curated-refs').querySelectorAll('li.ref')].map((row) => {
      const page = Number(row.querySelector('.ref-page').value);
      const ref = { material_id: row.querySelector('.ref-material').value };
      if (page > 0) ref.page = page;
      return ref;
    });
  }

  async function save(event) {
    event.preventDefault();
    const body = { question: $('curated-question').value.trim(), answer: $('curated-answer').value.trim(), references: formReferences() };
    if (!body.question || !body.answer) return;
    try {
      if (editing.answerId) await ctx.call('PATCH', `${base()}/${encodeURIComponent(editing.answerId)}`, body);
      else if (editing.turnId) await ctx.call('POST', `${base()}/from-turn/${encodeURIComponent(editing.turnId)}`, body);
      else await ctx.call('PUT', base(), body);
      reset();
      await loadAnswers();
      ctx.say(t('saved'));
    } catch (error) {
      ctx.say(failure(error, 'saveFailed'));
    }
  }

  $('curated-form').addEventListener('submit', save);
  $('curated-cancel').addEventListener('click', () => {
    reset();
    ctx.say('');
  });
  $('curated-add-ref').addEventListener('click', () => {
    const row = referenceRow();
    $('curated-refs').append(row);
    row.querySelector('select').focus();
  });

  function focusForm() {
    $('curated-form').scrollIntoView({ block: 'start' });
    $('curated-question').focus();
  }

  // --- the course's curated answers -------------------------------------------------------------
  function answerItem(answer) {
    const review = answer.status === 'needs_review';
    const edit = el('button', { type: 'button', class: 'link', text: t('edit'), dataset: { testid: 'curated-edit' } });
    edit.addEventListener('click', () => {
      editing = { answerId: answer.id };
      fill({ ...answer, title: 'editCurated' });
      focusForm();
    });
    const remove = el('button', { type: 'button', class: 'danger', text: t('delete'), dataset: { testid: 'curated-delete' } });
    remove.addEventListener('click', async () => {
      if (!(await confirmAction(t('confirmDelete', { q: short(answer.question, 80) }), t('delete')))) return;
      try {
        await ctx.call('DELETE', `${base()}/${encodeURIComponent(answer.id)}`);
        if (editing.answerId === answer.id) reset();
        await loadAnswers();
        ctx.say(t('deleted'));
      } catch (error) {
        ctx.say(failure(error, 'saveFailed'));
      }
    });
    const reviewed = review ? el('button', { type: 'button', class: 'primary', text: t('markReviewed'), dataset: { testid: 'curated-reviewed' } }) : null;
    reviewed?.addEventListener('click', async () => {
      try {
        await ctx.call('PATCH', `${base()}/${encodeURIComponent(answer.id)}`, { reviewed: true });
        await loadAnswers();
        ctx.say(t('saved'));
      } catch (error) {
        ctx.say(failure(error, 'saveFailed'));
      }
    });
    const body = el('div', { class: 'answer' });
    body.append(renderMarkdown(answer.answer)); // sanitized: never raw HTML
    return el(
      'li',
      { class: `item${review ? ' flagged' : ''}`, dataset: { testid: 'curated-item', status: answer.status } },
      el('div', { class: 'quote', text: answer.question }),
      review ? el('p', { class: 'badge warn', dataset: { testid: 'needs-review' } }, `${t('needsReview')}: `, answer.review_reason || '') : null,
      body,
      answer.references.length ? el('ul', { class: 'pages' }, ...answer.references.map((r) => el('li', {}, pageLink(ctx, r)))) : null,
      el('p', { class: 'muted small', text: t('updatedBy', { who: answer.updated_by, when: when(answer.updated_at) }) }),
      el('div', { class: 'actions' }, reviewed, edit, remove),
    );
  }

  async function loadAnswers() {
    answers = await ctx.call('GET', base());
    renderAnswers();
  }

  function renderAnswers() {
    $('curated-list').replaceChildren(...answers.map(answerItem));
    if (!answers.length) $('curated-list').append(emptyItem(t('noCurated')));
  }

  // --- recent answers ---------------------------------------------------------------------------
  function recentItem(turn) {
    const make = CURATABLE.has(turn.response_source) ? el('button', { type: 'button', class: 'primary', text: t('makeCurated'), dataset: { testid: 'make-curated' } }) : null;
    make?.addEventListener('click', () => api.prefill({ turnId: turn.turn_id, question: turn.question, answer: turn.answer, sources: turn.sources, origin: t('fromAnswer', { when: when(turn.created_at) }) }));
    const ratings = turn.upvotes || turn.downvotes ? t('ratingCounts', { up: count(turn.upvotes), down: count(turn.downvotes) }) : null;
    return el(
      'li',
      { class: 'item', dataset: { testid: 'recent-answer', turnId: turn.turn_id } },
      el('div', { class: 'quote', text: turn.question }),
      el('p', { class: 'answer-text', text: short(turn.answer) }),
      turn.sources.length ? el('ul', { class: 'pages' }, ...turn.sources.map((s) => el('li', {}, pageLink(ctx, s)))) : null,
      el('p', { class: 'muted small', text: [when(turn.created_at), t(`source_${turn.response_source}`), ratings, turn.student].filter(Boolean).join(' · ') }),
      make ? el('div', { class: 'actions' }, make) : null,
    );
  }

  function renderRecent() {
    $('recent').replaceChildren(...recent.map(recentItem));
    if (!recent.length) $('recent').append(emptyItem(t('noData')));
  }

  const api = {
    async load() {
      if (formCourse !== ctx.courseId()) reset();
      formCourse = ctx.courseId();
      const q = new URLSearchParams({ ...ctx.range(), limit: '30' });
      const [list, turns] = await Promise.all([ctx.call('GET', base()), ctx.call('GET', `/courses/${encodeURIComponent(ctx.courseId())}/turns?${q}`)]);
      answers = list;
      recent = turns;
      renderAnswers();
      renderRecent();
    },
    rerender() {
      $('curated-form-title').textContent = t(titleKey);
      renderAnswers();
      renderRecent();
    },
    /** Open the form on an answer a student got: `{question, answer, sources, turnId?, origin}`. */
    prefill({ question, answer, sources = [], turnId = null, origin = '' }) {
      editing = turnId ? { turnId } : {};
      formCourse = ctx.courseId();
      const references = [];
      for (const source of sources) {
        const meta = source.metadata ?? source;
        const ref = { material_id: meta.material_id, page: meta.page_number ?? meta.page ?? null };
        if (ref.material_id && !references.some((r) => r.material_id === ref.material_id && r.page === ref.page)) references.push(ref);
      }
      fill({ question, answer, references: references.slice(0, 10), origin });
      focusForm();
    },
  };
  return api;
}
