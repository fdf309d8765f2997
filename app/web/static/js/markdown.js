// Markdown from the LLM -> sanitized DOM. The answer text is untrusted (it can echo PDF text or a
// prompt injection), so marked's HTML goes through DOMPurify before it reaches the page: no
// scripts, no event handlers, no styles, no forms, no images (an image URL can carry data out).
import { marked } from '/static/vendor/marked-18.2.1/marked.esm.js';
import DOMPurify from '/static/vendor/dompurify-3.5.0/purify.es.mjs';

const PURIFY = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ['style', 'img', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'video', 'audio', 'svg', 'math'],
  FORBID_ATTR: ['style', 'class', 'id'],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
};

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
});

marked.use({ gfm: true, breaks: true });

/** Sanitized HTML for `text`, as a DocumentFragment (never assigned through innerHTML). */
export function renderMarkdown(text) {
  const html = marked.parse(text, { async: false });
  const fragment = DOMPurify.sanitize(html, { ...PURIFY, RETURN_DOM_FRAGMENT: true });
  for (const table of fragment.querySelectorAll('table')) {
    const wrap = document.createElement('div');
    wrap.className = 'table-wrap';
    table.replaceWith(wrap);
    wrap.append(table);
  }
  return fragment;
}
