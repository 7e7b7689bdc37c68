// The patients screen: find patients (name, birthdate, phone), see their portal access and, when
// they cannot have it yet, what their record lacks; give access, a new temporary password, or
// remove it. A new login is shown once on a sheet that prints on its own (print CSS); the
// password is never kept in the page after the sheet is closed, nor anywhere in the browser.
import { $, api, el, onSubmit, status } from '/lib.js';

const FIELD = { firstName: 'first name', lastName: 'last name', address: 'address', city: 'city', state: 'state', birthdate: 'birthdate', phone: 'phone', email: 'email' };
const when = (iso) => new Date(iso).toLocaleString();
let cursor = null;
let loads = 0;
let sheetPatient = null;
/** The practice's phone (Setup's contact section), on every printed login. */
let officePhone = '';
export function setOfficePhone(phone) {
  officePhone = phone || '';
}
let writeTo = null;

/** A short answer for a problem the API gave. */
const problem = (r, fallback) => (r.status === 0 ? 'The portal could not be reached.' : (r.data && r.data.detail) || fallback);

export async function load(reset) {
  if (reset) cursor = null;
  const q = new URLSearchParams({ q: $('patients-q').value.trim() });
  if (cursor) q.set('cursor', cursor);
  const asked = loads += 1;
  const r = await api('GET', `/v1/admin/patients?${q}`);
  // Only the latest search shows (one typed meanwhile replaces this one).
  if (asked !== loads) return undefined;
  if (!r.ok) return status('patients-status', problem(r, 'The patients could not be loaded.'));
  status('patients-status', '');
  const rows = r.data.items.map(row);
  if (reset) $('patients-items').replaceChildren(...rows);
  else $('patients-items').append(...rows);
  if (!$('patients-items').children.length) $('patients-items').append(el('li', { className: 'meta' }, 'No patient matches.'));
  cursor = r.data.nextCursor;
  $('patients-more').hidden = !cursor;
  return undefined;
}

function row(p) {
  const access = p.access.enabled
    ? el('span', { className: 'badge' }, `Portal access: ${p.access.username}`)
    : el('span', { className: 'badge off' }, 'No portal access');
  const visit = p.access.enabled ? el('span', { className: 'meta' }, p.access.lastLoginAt ? `Last visit ${when(p.access.lastLoginAt)}` : 'Has not logged in yet') : null;
  const missing = p.eligible ? null : el('span', { className: 'meta' }, `Not eligible yet: the record needs ${p.missing.map((f) => FIELD[f] || f).join(', ')}.`);
  const actions = el('span', { className: 'row' });
  if (p.access.enabled) {
    actions.append(button('New temporary password', p, () => renew(p, false)));
    if (p.hasEmail) actions.append(button('Email a new temporary password', p, () => renew(p, true)));
    actions.append(button('Remove access', p, () => remove(p)));
  } else if (p.eligible) {
    actions.append(button('Give portal access', p, () => grant(p, false)));
    if (p.hasEmail) actions.append(button('Give access by email', p, () => grant(p, true)));
  }
  if (writeTo && writeTo.enabled()) actions.append(button('Write a message', p, () => writeTo.open(p)));
  return el('li', {}, el('strong', {}, p.name), el('span', { className: 'meta' }, `Born ${p.birthdate}`), el('span', {}, access, ' ', visit), missing, actions);
}

function button(label, p, work) {
  const b = el('button', { type: 'button', className: 'secondary', 'aria-label': `${label}: ${p.name}` }, label);
  b.addEventListener('click', work);
  return b;
}

/** `?email=true` also emails the login to the patient's own address. */
const sending = (email) => (email ? '?email=true' : '');

async function grant(p, email) {
  const r = await api('POST', `/v1/admin/patients/${encodeURIComponent(p.patientId)}/access${sending(email)}`);
  if (!r.ok) return status('patients-status', problem(r, 'Access was not given.'));
  showSheet(p, r.data);
  await load(true);
  return r.data.emailed && status('patients-status', `${p.name}'s login was emailed to them.`, true);
}

async function renew(p, email) {
  if (!confirm(`Give ${p.name} a new temporary password? Their current password stops working and they are logged out.`)) return undefined;
  const r = await api('POST', `/v1/admin/patients/${encodeURIComponent(p.patientId)}/access/reset${sending(email)}`);
  if (!r.ok) return status('patients-status', problem(r, 'No new password was made.'));
  showSheet(p, r.data);
  return r.data.emailed && status('patients-status', `${p.name}'s new login was emailed to them.`, true);
}

async function remove(p) {
  if (!confirm(`Remove ${p.name}'s portal access? They are logged out at once; their records stay.`)) return undefined;
  const r = await api('DELETE', `/v1/admin/patients/${encodeURIComponent(p.patientId)}/access`);
  if (!r.ok) return status('patients-status', problem(r, 'Access was not removed.'));
  status('patients-status', `${p.name} no longer has portal access.`, true);
  return load(true);
}

/** The printed sheet's words, in the patient's language (staff read the English on screen first). */
const SHEET = {
  en: {
    title: 'Patient portal login', url: 'Portal address', username: 'Username', password: 'Temporary password',
    once: 'The temporary password works once and for 7 days: you will choose your own password when you first log in.',
    for: (name) => `For ${name}`, phone: (phone) => `Questions? Call us at ${phone}.`,
  },
  es: {
    title: 'Acceso al portal del paciente', url: 'Dirección del portal', username: 'Usuario', password: 'Contraseña temporal',
    once: 'La contraseña temporal sirve una vez y durante 7 días: elegirá la suya la primera vez que inicie sesión.',
    for: (name) => `Para ${name}`, phone: (phone) => `¿Preguntas? Llámenos al ${phone}.`,
  },
};

function showSheet(p, login) {
  sheetPatient = p;
  const words = SHEET[login.language] || SHEET.en;
  for (const node of $('access-sheet').querySelectorAll('[data-sheet]')) node.textContent = words[node.dataset.sheet];
  $('access-sheet').lang = login.language || 'en';
  $('sheet-practice').textContent = $('practice-name').textContent;
  $('sheet-patient').textContent = words.for(p.name);
  $('sheet-phone').textContent = officePhone ? words.phone(officePhone) : '';
  // A path when the portal's own address is not configured: this page is on that site.
  $('sheet-url').textContent = new URL(login.loginUrl, location.origin).href;
  $('sheet-username').textContent = login.username;
  $('sheet-password').textContent = login.temporaryPassword;
  $('access-sheet').hidden = false;
  $('access-sheet').focus();
  status('patients-status', `${p.name} can log in with the login below.`, true);
}

/** Closes the sheet and forgets the password it showed. */
export function hideSheet() {
  sheetPatient = null;
  for (const id of ['sheet-url', 'sheet-username', 'sheet-password', 'sheet-patient']) $(id).textContent = '';
  $('access-sheet').hidden = true;
}

/** `compose`: `{ enabled(), open(patient) }` when staff can write to a patient from a row. */
export function wirePatients(compose) {
  writeTo = compose;
  onSubmit($('patients-form'), () => load(true));
  $('patients-more').addEventListener('click', () => load(false));
  $('sheet-close').addEventListener('click', () => {
    hideSheet();
    $('patients-q').focus();
  });
  $('sheet-print').addEventListener('click', async () => {
    // The print is audited first (the password itself never goes back to the portal).
    const r = await api('POST', `/v1/admin/patients/${encodeURIComponent(sheetPatient.patientId)}/access/printed`);
    if (!r.ok) return status('patients-status', problem(r, 'The print could not be recorded.'));
    window.print();
    return undefined;
  });
}
