// What the lecturer's pages share: a DOM builder that only ever sets text (questions, answers and
// comments come from students, the LLM or PDFs), the HTTP calls with the page's identity, links
// to a PDF page, and a confirmation dialog.
import { lang, t } from '../i18n.js';

/** An element with attributes/properties and children; strings become text nodes, never HTML. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== 'string') node[key] = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  node.append(...children.filter((c) => c != null));
  return node;
}

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** `call(method, path, body?)` → parsed JSON (or null for 204), with the page's identity. */
export function caller(client) {
  return async function call(method, path, body) {
    const headers = { Accept: 'application/json', ...(await client.authHeaders()) };
    const init = { method, headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      throw new HttpError(0, String(error));
    }
    if (!response.ok) {
      let detail = response.statusText;
      try {
        const data = await response.json();
        detail = typeof data.detail === 'string' ? data.detail : JSON.stringify(data.detail ?? data);
      } catch {
        /* not JSON */
      }
      throw new HttpError(response.status, detail);
    }
    return response.status === 204 ? null : response.json();
  };
}

/** A message for a failed call (`key`: loading or saving); staff-only refusals get their own. */
export function failure(error, key = 'loadFailed') {
  return error.status === 403 ? t('staffOnly') : t(key, { msg: error.message });
}

export function when(iso) {
  return new Intl.DateTimeFormat(lang(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

export function count(n) {
  return new Intl.NumberFormat(lang()).format(n);
}

/**
 * A link to `materialId`'s PDF at `page` (`/materials/{course}/{material}.pdf#page=N`). Without
 * authentication the user id rides in the query; with it, a plain link carries no identity, so a
 * click fetches the file with the bearer and opens it as a blob.
 */
export function pdfLink(ctx, materialId, page, text) {
  const number = page || 1;
  const link = el('a', { href: ctx.client.pdfUrl(ctx.courseId(), materialId, number), target: '_blank', rel: 'noopener', dataset: { testid: 'pdf-link' } }, text);
  if (ctx.identity.mode !== 'none') {
    link.addEventListener('click', async (event) => {
      event.preventDefault();
      const tab = window.open('', '_blank');
      try {
        const url = await ctx.client.pdfBlobUrl(ctx.courseId(), materialId, number);
        if (tab) tab.location.href = url;
      } catch (error) {
        tab?.close();
        ctx.say(failure(error));
      }
    });
  }
  return link;
}

/** A cited page as a link with its page label, e.g. "Modul 6 (p. 3)". */
export function pageLink(ctx, page) {
  const name = page.title || page.filename || page.material_id;
  const label = page.page_label || page.page_number;
  const text = label ? `${name} (${t('page', { label })})` : name;
  return pdfLink(ctx, page.material_id, page.page_number || page.page, text);
}

/** Ask in the page's `#confirm` dialog; resolves true when confirmed. */
export function confirmAction(message, confirmLabel) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = message;
  document.getElementById('confirm-ok').textContent = confirmLabel;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

/** An empty-state line for a list. */
export function emptyItem(text) {
  return el('li', { class: 'muted empty-item' }, text);
}
