// Keeps a signed-in page (patient or staff) through the end of its session without losing what is
// on it. A minute before the idle timeout a dialog offers "Stay signed in"; left alone, the page
// ends the session itself and says so. When the session has ended — timed out, logged out in
// another tab, ended by a password change — the page is hidden (its health data is not left on a
// shared screen) but kept as it was, with what was typed, behind a dialog asking for the password
// again; once signed in, the request that found the session gone is made again, so a message
// being sent is sent. Tabs of the same portal tell each other about activity, sign-outs and
// sign-ins (BroadcastChannel, nothing stored).
import { api, hookSession } from './lib.js';

const WARN_BEFORE_MS = 60_000;
const channel = 'BroadcastChannel' in window ? new BroadcastChannel('portal-session') : null;

let guard = null;

/** Starts guarding the signed-in page.
 * - `idleSeconds`: how long the session is sure to stay alive after a request (`/v1/session`);
 * - `warning`: a <dialog> with `[data-stay]` and `[data-leave]` buttons;
 * - `signin`: a <dialog> holding the page's own sign-in form, which calls `signedInAgain()` once
 *   signed in (its `cancel`, Escape, is refused: the page stays hidden until someone signs in or
 *   leaves);
 * - `leave()`: the page's log out ("Log out", "Log in as someone else"). */
export function guardSession({ idleSeconds, warning, signin, leave }) {
  stopGuard();
  guard = { idleMs: idleSeconds * 1000, warning, signin, leave, live: true, timers: [], waiting: null, told: 0 };
  hookSession({ ended: signedOut, answered: active });
  arm();
}

/** Stops guarding (the page logged out on purpose). */
export function stopGuard() {
  if (!guard) return;
  clear();
  hookSession({ ended: null, answered: null });
  guard = null;
}

/** The person signed in again in the dialog: the page shows again and waiting requests go on. */
export function signedInAgain() {
  if (!guard || guard.live) return;
  guard.live = true;
  document.body.classList.remove('signed-out');
  if (guard.signin.open) guard.signin.close();
  const waiting = guard.waiting;
  guard.waiting = null;
  if (waiting) waiting.resolve(true);
  tell('signed-in');
  arm();
}

function clear() {
  for (const t of guard.timers) clearTimeout(t);
  guard.timers = [];
}

function arm() {
  clear();
  if (guard.warning.open) guard.warning.close();
  guard.timers = [setTimeout(warn, Math.max(0, guard.idleMs - WARN_BEFORE_MS)), setTimeout(timedOut, guard.idleMs)];
}

/** Any answer from the API while signed in: the idle timer starts again, here and in other tabs
 * (told at most every few seconds). */
function active() {
  if (!guard || !guard.live) return;
  arm();
  if (Date.now() - guard.told > 5000) {
    guard.told = Date.now();
    tell('active');
  }
}

function warn() {
  if (!guard || !guard.live || guard.warning.open) return;
  guard.warning.showModal();
  guard.warning.querySelector('[data-stay]').focus();
}

/** Left alone to the end: the page ends the session itself rather than leave it alive for the
 * server's last minute, and tells the other tabs. */
async function timedOut() {
  if (!guard || !guard.live) return;
  showSignedOut();
  tell('ended');
  await api('POST', '/v1/auth/logout');
}

/** A request found the session gone: ask for the password, and answer once signed in. */
function signedOut() {
  if (!guard) return Promise.resolve(false);
  showSignedOut();
  if (!guard.waiting) {
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    guard.waiting = { promise, resolve };
  }
  return guard.waiting.promise;
}

function showSignedOut() {
  guard.live = false;
  clear();
  if (guard.warning.open) guard.warning.close();
  document.body.classList.add('signed-out');
  if (!guard.signin.open) guard.signin.showModal();
  const first = [...guard.signin.querySelectorAll('input')].find((i) => !i.closest('[hidden]') && !i.value);
  if (first) first.focus();
}

function tell(what) {
  if (channel) channel.postMessage(what);
}

if (channel) {
  channel.addEventListener('message', (e) => {
    if (!guard) return;
    if (e.data === 'active' && guard.live) arm();
    if (e.data === 'ended' && guard.live) showSignedOut();
    // Signed in again in another tab: the cookie is shared, so this tab is signed in too.
    if (e.data === 'signed-in') signedInAgain();
  });
}

/** Wires a guard's two dialogs once per page: Stay (or Escape), Log out, and no Escape while
 * signed out. */
export function wireSessionDialogs(warning, signin, leave) {
  const stay = async () => {
    // Asking touches the session's idle timer; the answer re-arms the page's.
    const r = await api('GET', '/v1/session');
    if (r.ok && !r.data.authenticated) signedOut();
  };
  warning.querySelector('[data-stay]').addEventListener('click', () => {
    warning.close();
    stay();
  });
  warning.addEventListener('cancel', () => stay());
  warning.querySelector('[data-leave]').addEventListener('click', () => {
    warning.close();
    leave();
  });
  signin.addEventListener('cancel', (e) => e.preventDefault());
  signin.querySelector('[data-leave]').addEventListener('click', () => {
    const waiting = guard && guard.waiting;
    if (guard) guard.waiting = null;
    if (waiting) waiting.resolve(false);
    signin.close();
    document.body.classList.remove('signed-out');
    leave();
  });
}
