/*
 * Course tutor chat widget. Put this on a course page or in an LMS:
 *
 *   <script src="https://TUTOR-HOST/widget.js" data-course="course_tik_01" async></script>
 *
 * It adds a button that opens a chat panel: an iframe of the tutor's own chat page, so the page's
 * sanitizing, accessibility and identity flow come with it. Optional attributes:
 *   data-ticket   a one-time launch ticket your server obtained (identity on; see docs)
 *   data-user     the student's id, for servers running without authentication
 *   data-lang     "id" or "en"; data-position "right" (default) or "left"; data-open "true"
 * The host page can tell the tutor which PDF page the student has open:
 *   window.CourseTutor.setPage("modul_infrastruktur_06", 12)
 */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || window.CourseTutor) return;
  var origin = new URL(script.src, location.href).origin;
  var data = script.dataset;
  var params = new URLSearchParams({ embed: '1' });
  if (data.course) params.set('course_id', data.course);
  if (data.ticket) params.set('ticket', data.ticket);
  if (data.user) params.set('user_id', data.user);
  var side = data.position === 'left' ? 'left' : 'right';
  var label = data.lang === 'en' ? 'Ask the course tutor' : 'Tanya tutor mata kuliah';
  var closeLabel = data.lang === 'en' ? 'Close the tutor' : 'Tutup tutor';

  var root = document.createElement('div');
  root.setAttribute('data-course-tutor', '');
  var shadow = root.attachShadow ? root.attachShadow({ mode: 'open' }) : root;
  var style = document.createElement('style');
  style.textContent =
    ':host{all:initial}' +
    '.launcher{position:fixed;bottom:20px;' + side + ':20px;z-index:2147483000;border:0;border-radius:999px;' +
    'padding:12px 18px;background:#1d5fd1;color:#fff;font:600 15px/1.2 system-ui,sans-serif;cursor:pointer;' +
    'box-shadow:0 4px 16px rgba(0,0,0,.25)}' +
    '.launcher:focus-visible,.close:focus-visible{outline:3px solid #f5b400;outline-offset:2px}' +
    '.panel{position:fixed;bottom:80px;' + side + ':20px;z-index:2147483000;width:min(420px,calc(100vw - 24px));' +
    'height:min(640px,calc(100vh - 110px));border-radius:14px;overflow:hidden;background:#fff;' +
    'box-shadow:0 8px 32px rgba(0,0,0,.3);display:flex;flex-direction:column}' +
    '.panel[hidden]{display:none}' +
    '.close{position:absolute;top:6px;right:6px;z-index:1;border:0;' +
    'background:rgba(0,0,0,.06);border-radius:8px;width:32px;height:32px;cursor:pointer;font:18px system-ui}' +
    'iframe{border:0;width:100%;height:100%}' +
    // on a phone the panel takes the screen; the launcher would cover its send button
    '@media (max-width:480px){.panel{bottom:0;' + side + ':0;width:100vw;height:100vh;border-radius:0}' +
    '.launcher[aria-expanded="true"]{display:none}}';
  var launcher = document.createElement('button');
  launcher.type = 'button';
  launcher.className = 'launcher';
  launcher.textContent = label;
  launcher.setAttribute('aria-expanded', 'false');
  var panel = document.createElement('div');
  panel.className = 'panel';
  panel.hidden = true;
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-label', label);
  var close = document.createElement('button');
  close.type = 'button';
  close.className = 'close';
  close.textContent = '\u00d7';
  close.setAttribute('aria-label', closeLabel);
  var frame = null;
  var pending = null;

  function post(message) {
    if (frame && frame.contentWindow) frame.contentWindow.postMessage(message, origin);
  }

  function open() {
    if (!frame) {
      frame = document.createElement('iframe');
      frame.title = label;
      frame.src = origin + '/?' + params.toString();
      frame.setAttribute('allow', 'clipboard-write');
      frame.addEventListener('load', function () {
        if (pending) post(pending);
      });
      panel.appendChild(frame);
    }
    panel.hidden = false;
    launcher.setAttribute('aria-expanded', 'true');
    close.focus();
  }

  function hide() {
    panel.hidden = true;
    launcher.setAttribute('aria-expanded', 'false');
    launcher.focus();
  }

  launcher.addEventListener('click', function () {
    if (panel.hidden) open();
    else hide();
  });
  close.addEventListener('click', hide);
  panel.addEventListener('keydown', function (event) {
    if (event.key === 'Escape') hide();
  });
  panel.appendChild(close);
  shadow.appendChild(style);
  shadow.appendChild(panel);
  shadow.appendChild(launcher);
  (document.body || document.documentElement).appendChild(root);

  window.CourseTutor = {
    open: open,
    close: hide,
    setPage: function (materialId, page) {
      pending = { type: 'tutor:page', material_id: materialId, page: page };
      post(pending);
    },
  };
  if (data.open === 'true') open();
})();
