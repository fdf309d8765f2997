// The review queue (GET /courses/{id}/reviews): cached answers taken out of the cache after a
// downvote, with the students' comments. Restore puts one back, Discard drops it, "Correct it"
// opens the curated-answer form on its question, answer and pages.
import { t } from '../i18n.js';
import { renderMarkdown } from '../markdown.js';
import { confirmAction, count, el, emptyItem, failure, pageLink, when } from './common.js';

const $ = (id) => document.getElementById(id);

function pagesOf(sources) {
  const seen = new Set();
  const pages = [];
  for (const source of sources) {
    const meta = source.metadata ?? source;
    const key = `${meta.material_id}#${meta.page_number}`;
    if (!meta.material_id || seen.has(key)) continue;
    seen.add(key);
    pages.push(meta);
  }
  return pages;
}

export function reviewsSection(ctx) {
  let items = [];
  const base = () => `/courses/${encodeURIComponent(ctx.courseId())}/reviews`;

  async function act(item, restore) {
    if (!restore && !(await confirmAction(t('confirmDiscard'), t('discard')))) return;
    try {
      const path = `${base()}/${encodeURIComponent(item.entry_id)}`;
      if (restore) await ctx.call('POST', `${path}/restore`);
      else await ctx.call('DELETE', path);
      await api.load();
      ctx.say(restore ? t('restored') : t('discarded'));
    } catch (error) {
      ctx.say(failure(error, 'saveFailed'));
    }
  }

  function item(held) {
    const pages = pagesOf(held.sources);
    const restore = el('button', { type: 'button', class: 'primary', text: t('restore'), dataset: { testid: 'review-restore' } });
    restore.addEventListener('click', () => act(held, true));
    const discard = el('button', { type: 'button', class: 'danger', text: t('discard'), dataset: { testid: 'review-discard' } });
    discard.addEventListener('click', () => act(held, false));
    const correct = el('button', { type: 'button', class: 'link', text: t('correctIt'), dataset: { testid: 'review-correct' } });
    correct.addEventListener('click', () => {
      const loading = ctx.go('curated');
      ctx.views.curated.prefill({ question: held.question, answer: held.answer, sources: pages, origin: t('fromReview') });
      return loading;
    });
    const answer = el('div', { class: 'answer' });
    answer.append(renderMarkdown(held.answer)); // sanitized: never raw HTML
    return el(
      'li',
      { class: 'item', dataset: { testid: 'review-item', entryId: held.entry_id } },
      el('div', { class: 'quote', text: held.question }),
      answer,
      pages.length ? el('ul', { class: 'pages' }, ...pages.map((p) => el('li', {}, pageLink(ctx, p)))) : null,
      el('p', { class: 'muted small', text: `${t('downvotes', { n: count(held.downvotes) })} · ${when(held.held_at * 1000)}` }),
      held.comments.length ? el('ul', { class: 'comments' }, ...held.comments.map((c) => el('li', { class: 'comment', dataset: { testid: 'review-comment' } }, el('span', { class: 'sr-only', text: `${t('comment')}: ` }), c))) : el('p', { class: 'muted', text: t('noComment') }),
      el('div', { class: 'actions' }, correct, discard, restore),
    );
  }

  function render() {
    $('review-list').replaceChildren(...items.map(item));
    if (!items.length) $('review-list').append(emptyItem(t('noReviews')));
  }

  const api = {
    async load() {
      items = await ctx.call('GET', base());
      render();
    },
    rerender: render,
  };
  return api;
}
