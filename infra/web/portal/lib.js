// Shared by the patient and staff pages (ES module): JSON calls to the API (the session cookie is
// HttpOnly and travels by itself), element building with textContent only, busy buttons that let
// one click make one request, copying to the clipboard and show-password toggles; a signed-in
// page's ended session is handed to session.js.

export const $ = (id) => document.getElementById(id);

/** What a signed-in page does about its session (session.js sets these): `ended()` runs when a
 * request finds the session gone and answers whether the person signed in again (the request is
 * then made again, so the action they took goes through); `answered()` after any other answer. */
const sessionHooks = { ended: null, answered: null };
export function hookSession(hooks) {
  Object.assign(sessionHooks, hooks);
}

/** Calls the API; answers { ok, status, data } where data is the JSON body (or a problem body). A
 * network failure is answered as status 0 with no data, never thrown. On a signed-in page an ended
 * session is not an answer: the page asks the person to sign in again, then the call is repeated. */
export async function api(method, path, body) {
  const r = await call(method, path, body);
  if (r.status === 401 && r.data && r.data.code === 'session_required' && sessionHooks.ended) {
    if (await sessionHooks.ended()) return api(method, path, body);
  } else if (r.status !== 0 && sessionHooks.answered) {
    sessionHooks.answered();
  }
  return r;
}

async function call(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (_) {
    return { ok: false, status: 0, data: null };
  }
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  return { ok: res.ok, status: res.status, data };
}

/** Builds an element: el('p', { className: 'hint' }, 'text', child, …). Text is always text. */
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k in node && !k.startsWith('aria') && k !== 'role') node[k] = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

/** Shows a message in a status element; good messages in green, others in red. */
export function status(id, text, good) {
  const node = typeof id === 'string' ? $(id) : id;
  node.textContent = text || '';
  node.className = 'status ' + (good ? 'good' : 'bad');
}

/** Runs `work` with `button` busy (disabled, spinner, aria-busy). While it runs, the button is
 * disabled and a second call returns at once: one click, one request. */
export async function busy(button, work) {
  if (button.getAttribute('aria-busy') === 'true') return undefined;
  button.setAttribute('aria-busy', 'true');
  const wasDisabled = button.disabled;
  button.disabled = true;
  try {
    return await work();
  } finally {
    button.removeAttribute('aria-busy');
    button.disabled = wasDisabled;
  }
}

/** Copies text to the clipboard and says so in `statusId` (or says how to copy by hand). */
export async function copy(text, statusId, done) {
  try {
    await navigator.clipboard.writeText(text);
    status(statusId, done, true);
  } catch (_) {
    status(statusId, 'Copying is blocked in this browser: select the text and copy it by hand.');
  }
}

/** Submit handler for a form whose submit button becomes busy while `work` runs. */
export function onSubmit(form, work) {
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const button = form.querySelector('button[type=submit]');
    busy(button, () => work(e));
  });
}

/** Adds a Show/Hide button after every password input under `root`; `labels()` answers the two
 * words in the page's language (asked at each click, so a language change applies). */
export function passwordToggles(root, labels) {
  for (const input of root.querySelectorAll('input[type=password]')) {
    const button = el('button', { type: 'button', className: 'reveal secondary', 'aria-pressed': 'false', 'aria-controls': input.id });
    const paint = () => {
      const shown = input.type === 'text';
      button.textContent = shown ? labels().hide : labels().show;
      button.setAttribute('aria-pressed', String(shown));
    };
    button.addEventListener('click', () => {
      input.type = input.type === 'password' ? 'text' : 'password';
      paint();
      input.focus();
    });
    button.paint = paint;
    input.after(button);
    input.parentElement.classList.add('has-reveal');
    paint();
  }
}

/** Empties every password field under `root` and puts it back to hidden (after a login, at logout). */
export function resetPasswords(root) {
  for (const b of root.querySelectorAll('button.reveal')) {
    const input = $(b.getAttribute('aria-controls'));
    input.type = 'password';
    input.value = '';
    b.paint();
  }
}

/** The files a message may carry, as the portal checks them again when it is sent. */
export const ATTACHMENT_TYPES = ['application/pdf', 'image/jpeg', 'image/png'];
export const MAX_ATTACHMENTS = 5;
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

/** Declares each file at `declarePath` and uploads it to the URL answered (type and size pinned).
 * Answers { ids } or { failed: { reason: 'count'|'type'|'size'|'upload'|'network', name } }. */
export async function uploadAttachments(declarePath, files) {
  if (files.length > MAX_ATTACHMENTS) return { failed: { reason: 'count', name: '' } };
  const ids = [];
  for (const f of files) {
    if (!ATTACHMENT_TYPES.includes(f.type)) return { failed: { reason: 'type', name: f.name } };
    if (f.size > MAX_ATTACHMENT_BYTES) return { failed: { reason: 'size', name: f.name } };
    const r = await api('POST', declarePath, { fileName: f.name, contentType: f.type, size: f.size });
    if (!r.ok) return { failed: { reason: r.status === 0 ? 'network' : 'type', name: f.name } };
    try {
      const put = await fetch(r.data.uploadUrl, { method: 'PUT', headers: { 'Content-Type': f.type }, body: f });
      if (!put.ok) return { failed: { reason: 'upload', name: f.name } };
    } catch (_) {
      return { failed: { reason: 'network', name: f.name } };
    }
    ids.push(r.data.id);
  }
  return { ids };
}

/** Asks for a file's short-lived link and opens it (the browser downloads it under its own name,
 * or shows an image). Answers the failed answer, or null. */
export async function openLink(path) {
  const r = await api('GET', path);
  if (!r.ok) return r;
  const a = el('a', { href: r.data.url, rel: 'noopener' });
  document.body.append(a);
  a.click();
  a.remove();
  return null;
}

/** A QR code drawn from the API's module rows ('1' = dark) as an SVG, quiet zone around it: an
 * authenticator's secret is never sent to an image service. */
export function qrImage(rows, label) {
  const SVG = 'http://www.w3.org/2000/svg';
  const n = rows.length + 8;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${n} ${n}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const path = document.createElementNS(SVG, 'path');
  let d = '';
  rows.forEach((row, y) => [...row].forEach((c, x) => { if (c === '1') d += `M${x + 4} ${y + 4}h1v1h-1z`; }));
  path.setAttribute('d', d);
  svg.append(path);
  return svg;
}
