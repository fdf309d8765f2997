// Who is using the page. With AUTH_MODE=none the student names themselves (kept in localStorage).
// With identity on, an LMS launch redirects to `/?ticket=...&course_id=...`: the one-time ticket
// is exchanged for a short-lived bearer token (POST /auth/session), kept for this tab only, and
// each WebSocket then gets its own one-time ticket (POST /auth/ticket) inside the client.

import { local, session as tab } from './storage.js';

const USER_KEY = 'tutor.userId';
const SESSION_KEY = 'tutor.session';

function savedSession() {
  try {
    const saved = JSON.parse(tab.get(SESSION_KEY) || 'null');
    return saved && saved.expiresAt > Date.now() + 5000 ? saved : null;
  } catch {
    return null;
  }
}

/**
 * Resolve the identity and set it on `client`. `askUserId()` is awaited when the server runs
 * without authentication and no id is remembered. Returns `{mode, userId, role}`.
 */
export async function establish(client, askUserId) {
  const params = new URLSearchParams(location.search);
  const ticket = params.get('ticket');
  if (ticket) {
    params.delete('ticket');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
    const session = await client.exchangeLaunchTicket(ticket);
    const stored = { token: session.token, userId: session.user_id, role: session.role, expiresAt: Date.now() + session.expires_in * 1000 };
    tab.set(SESSION_KEY, JSON.stringify(stored));
    return { mode: 'session', userId: session.user_id, role: session.role };
  }
  const session = savedSession();
  if (session) {
    client.setIdentity({ token: session.token, userId: session.userId });
    return { mode: 'session', userId: session.userId, role: session.role };
  }
  const me = await client.me();
  if (me.auth_mode !== 'none') {
    if (me.user_id) return { mode: me.auth_mode, userId: me.user_id, role: me.role };
    throw new Error('Open the tutor from your course page (LMS) to sign in.');
  }
  let userId = params.get('user_id') || local.get(USER_KEY);
  if (!userId) userId = await askUserId();
  local.set(USER_KEY, userId);
  client.setIdentity({ userId });
  return { mode: 'none', userId, role: 'staff' };
}

export function forgetUser() {
  local.remove(USER_KEY);
  tab.remove(SESSION_KEY);
}

/** Ask for a user id in the page's `#identify` dialog (AUTH_MODE=none only). */
export function askUserId() {
  const dialog = document.getElementById('identify');
  const form = document.getElementById('identify-form');
  const input = document.getElementById('user-id');
  return new Promise((resolve) => {
    form.addEventListener('submit', function onSubmit(event) {
      if (!input.checkValidity()) {
        event.preventDefault();
        return;
      }
      form.removeEventListener('submit', onSubmit);
      resolve(input.value.trim());
    });
    dialog.showModal();
    input.focus();
  });
}
