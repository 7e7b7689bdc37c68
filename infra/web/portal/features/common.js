// What the feature tabs share: loading a tab's data for the patient being viewed (a spinner, then
// the data or a message; an answer that arrives after the patient was switched is dropped),
// friendly empty states, and opening a file through its short-lived link. Text is always text.
import { api, el, openLink } from '../lib.js';
import { t } from '../i18n.js';

/** `path` for the patient being viewed (`?patient=`), with other query parameters. */
export function forPatient(path, patientId, params = {}) {
  const q = new URLSearchParams({ patient: patientId });
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  return `${path}?${q}`;
}

/** The message for a failed call, in the page's language. */
export function failure(r) {
  if (r.status === 0) return t('error.network');
  if (r.status === 404) return t('feature.notFound');
  if (r.status === 429) return t('error.tooMany');
  return t('error.generic');
}

/** Loads `paths` in parallel into `panel`: a spinner first, then the data (one per path), or a
 * message and null. Null too when another load of this panel started meanwhile. */
export async function load(panel, paths) {
  const ticket = Symbol('load');
  panel.ticket = ticket;
  panel.setAttribute('aria-busy', 'true');
  panel.replaceChildren(el('p', { className: 'loading' }, el('span', { className: 'spinner', 'aria-hidden': 'true' }), t('common.loading')));
  const answers = await Promise.all(paths.map((p) => api('GET', p)));
  if (panel.ticket !== ticket) return null;
  panel.removeAttribute('aria-busy');
  const failed = answers.find((r) => !r.ok);
  if (failed) {
    panel.replaceChildren(el('p', { className: 'notice', role: 'alert' }, failure(failed)));
    return null;
  }
  return answers.map((r) => r.data);
}

/** A titled part of a tab. */
export const part = (titleKey, ...children) => el('section', { className: 'part' }, el('h3', {}, t(titleKey)), ...children);

/** What an empty list says. */
export const empty = (key) => el('p', { className: 'empty' }, t(key));

/** A to-do's button that opens a view (for the person the to-do is about). */
export function opener(label, open) {
  const b = el('button', { type: 'button', className: 'secondary' }, label);
  b.addEventListener('click', open);
  return b;
}

/** Opens a file through its short-lived link; answers an error message or null. */
export async function openFile(path) {
  const failed = await openLink(path);
  return failed ? failure(failed) : null;
}
