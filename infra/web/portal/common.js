// Shared by the patient and staff pages: JSON calls to the API (the session cookie is HttpOnly and
// travels by itself) and status messages.
'use strict';

const $ = (id) => document.getElementById(id);

/** Calls the API; answers { ok, status, data } where data is the JSON body (or a problem body). */
async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  return { ok: res.ok, status: res.status, data };
}

/** Shows a message in a status element; good messages in green, others in red. */
function status(id, text, good) {
  const el = $(id);
  el.textContent = text || '';
  el.className = 'status ' + (good ? 'good' : 'bad');
}
