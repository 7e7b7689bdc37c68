// The staff page, at the practice's staff address (/p/{practice}/staff/, so the login knows the
// practice; /admin/ asks for it): log in (username, password, authenticator code; a temporary
// password is changed first), then nine screens chosen from the section navigation (setup, patients and
// access, messages, payments, invites, code systems, staff users, practice system, activity), one at a time, by the
// address's #fragment, the first one the role may use by default. Admin-only screens are not
// offered to the front desk. The session lives in an HttpOnly cookie; nothing is kept in the browser.
import { $, api, resetPasswords, onSubmit, passwordToggles, status } from '/lib.js';
import { guardSession, signedInAgain, stopGuard, wireSessionDialogs } from '/session.js';
import { showSettings } from './settings.js';
import { hideSecret, loadSyncKeys, wireSyncKeys } from './sync-keys.js';
import { load as loadAudit, setFeatureLabels, wireAudit } from './audit.js';
import { composeTo, load as loadMessages, wireWebmail } from './webmail.js';
import { hideSheet, load as loadPatients, setOfficePhone, wirePatients } from './patients.js';
import { load as loadInvites, wireInvites } from './invites.js';
import { leave as leaveCodeSystems, load as loadCodeSystems } from './code-systems.js';
import { load as loadDirect, wireDirect } from './direct.js';
import { hideSecrets as hideStaffSecrets, load as loadStaff, wireStaff } from './staff.js';
import { load as loadPayments, wirePayments } from './payments.js';

const SECTIONS = ['setup', 'patients', 'messages', 'payments', 'invites', 'code-systems', 'staff', 'connection', 'activity'];
// Sync keys are the practice system's credentials: only admins see or make them.
const ADMIN_ONLY = ['staff', 'connection', 'activity'];
let canEdit = false;
let features = [];
let practiceId = '';
let username = '';

function show(view) {
  for (const id of ['loading-view', 'login-view', 'staff-password-view', 'staff-view']) $(id).hidden = id !== view;
  $('logout').hidden = view !== 'staff-view' && view !== 'staff-password-view';
  if (view === 'staff-password-view') $('spw-current').focus();
  if (view === 'login-view') {
    const empty = [...$('login-form').querySelectorAll('input')].find((i) => !i.value);
    (empty || $('login-username')).focus();
  }
}

/** Shows the section the address names (setup by default) and loads what it lists. */
function openSection() {
  const wanted = location.hash.slice(1);
  // The front desk's day is patients and messages; setup is an admin's first screen.
  const first = canEdit ? 'setup' : 'patients';
  const name = SECTIONS.includes(wanted) && (canEdit || !ADMIN_ONLY.includes(wanted)) ? wanted : first;
  for (const s of SECTIONS) $('section-' + s).hidden = s !== name;
  for (const a of document.querySelectorAll('nav.sections a')) {
    if (a.dataset.section === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (name !== 'patients') hideSheet();
  if (name !== 'staff') hideStaffSecrets();
  if (name === 'staff') loadStaff();
  if (name === 'patients' && !$('patients-items').children.length) loadPatients(true);
  if (name === 'messages') loadMessages(true);
  if (name === 'payments') loadPayments(canEdit);
  if (name === 'setup') loadDirect(canEdit);
  if (name === 'invites') loadInvites();
  if (name === 'code-systems') loadCodeSystems(canEdit);
  else leaveCodeSystems();
  if (name === 'connection') loadSyncKeys(canEdit, refreshActivity);
  if (name === 'activity') loadAudit(true);
}

/** After a change: the activity screen, if open, shows it. */
function refreshActivity() {
  if (!$('section-activity').hidden) loadAudit(true);
}

async function enter() {
  const [r, me, session] = await Promise.all([api('GET', '/v1/admin/settings'), api('GET', '/v1/me'), api('GET', '/v1/session')]);
  if (r.status === 403 && r.data && r.data.code === 'password_change_required') return show('staff-password-view');
  if (!r.ok) return show('login-view');
  username = me.ok ? me.data.username : '';
  $('signin-who').textContent = `Signing in as ${username}`;
  $('signin-username').value = username;
  guardSession({ idleSeconds: (session.ok && session.data.idleSeconds) || 840, warning: $('idle-dialog'), signin: $('signin-dialog'), leave: logout });
  canEdit = r.data.canEdit;
  practiceId = r.data.portalPath.split('/')[2] || '';
  // The staff address from now on, so a bookmark of this page skips typing the practice.
  if (practiceId && location.pathname !== staffPath(practiceId)) history.replaceState(null, '', staffPath(practiceId) + location.hash);
  features = r.data.settings.features;
  setFeatureLabels(r.data.featureCatalog);
  showSettings(r.data, refreshActivity);
  setOfficePhone(r.data.settings.contact && r.data.settings.contact.phone);
  for (const b of document.querySelectorAll('#section-connection button')) b.disabled = !canEdit;
  for (const a of document.querySelectorAll('nav.sections a[data-admin-only]')) a.hidden = !canEdit;
  show('staff-view');
  return openSection();
}

/** The practice's staff address: its portal address + `staff/`. */
const staffPath = (id) => `/p/${encodeURIComponent(id)}/staff/`;

/** The practice this address names: /p/{practice}/staff/, or an older /admin/?practice= link. */
function practiceFromAddress() {
  const m = location.pathname.match(/^\/p\/([^/]+)\/staff\/$/);
  return m ? decodeURIComponent(m[1]) : (new URLSearchParams(location.search).get('practice') || '');
}

/** At a practice's staff address the login names the practice and does not ask for it. */
async function showPractice() {
  const id = practiceFromAddress();
  $('login-practice').value = id;
  if (!id) return;
  const r = await api('GET', '/v1/practices/' + encodeURIComponent(id));
  if (!r.ok) {
    if (r.status === 404) status('login-status', 'This address names no practice this portal knows. Type your practice ID, or ask your administrator for the staff address.');
    return;
  }
  for (const e of [$('login-practice'), document.querySelector('label[for=login-practice]')]) e.hidden = true;
  $('login-practice-name').textContent = r.data.name;
  $('login-practice-name').hidden = false;
  $('practice-name').textContent = `${r.data.name} · portal setup`;
}

onSubmit($('login-form'), async () => {
  const body = { practice: $('login-practice').value.trim(), username: $('login-username').value.trim(), password: $('login-password').value, totp: $('login-totp').value.trim() };
  if (!body.practice || !body.username || !body.password || !/^\d{6}$/.test(body.totp)) return status('login-status', 'Fill in every field; the code has 6 digits.');
  const r = await api('POST', '/v1/staff/login', body);
  $('login-totp').value = '';
  if (!r.ok) {
    $('login-password').value = '';
    return status('login-status', r.status === 401
      ? `That ${$('login-practice').hidden ? '' : 'practice, '}username, password or authenticator code is not right, or there were too many tries. Check them and try again in a minute.`
      : (r.status === 0 ? 'The portal could not be reached.' : ((r.data && r.data.detail) || 'Login failed.')));
  }
  status('login-status', '');
  resetPasswords($('login-form'));
  return enter();
});

onSubmit($('staff-password-form'), async () => {
  const body = { currentPassword: $('spw-current').value, newPassword: $('spw-new').value };
  if (body.newPassword !== $('spw-confirm').value) return status('spw-status', 'The two new passwords differ.');
  const r = await api('POST', '/v1/auth/password', body);
  if (!r.ok) return status('spw-status', (r.data && r.data.detail) || 'The password was not changed.');
  status('spw-status', '');
  resetPasswords($('staff-password-form'));
  return enter();
});

async function logout() {
  stopGuard();
  await api('POST', '/v1/auth/logout');
  leaveCodeSystems();
  hideSecret();
  hideSheet();
  hideStaffSecrets();
  show('login-view');
}
$('logout').addEventListener('click', logout);

// Signing in again after the session ended: the same person, so the screen as it was is theirs.
onSubmit($('signin-form'), async () => {
  const body = { practice: practiceId, username, password: $('signin-password').value, totp: $('signin-totp').value.trim() };
  if (!body.password || !/^\d{6}$/.test(body.totp)) return status('signin-status', 'Fill in both fields; the code has 6 digits.');
  const r = await api('POST', '/v1/staff/login', body);
  $('signin-totp').value = '';
  if (!r.ok) {
    return status('signin-status', r.status === 401
      ? 'That password or authenticator code is not right, or there were too many tries. Check them and try again in a minute.'
      : (r.status === 0 ? 'The portal could not be reached.' : ((r.data && r.data.detail) || 'Login failed.')));
  }
  status('signin-status', '');
  resetPasswords($('signin-form'));
  return signedInAgain();
});
wireSessionDialogs($('idle-dialog'), $('signin-dialog'), logout);

window.addEventListener('hashchange', openSection);
wireSyncKeys(() => canEdit, refreshActivity);
wireAudit();
wireWebmail();
wireInvites();
wireDirect();
wireStaff();
wirePayments(() => practiceId);
wirePatients({ enabled: () => features.includes('ModuleWebMail'), open: composeTo });
passwordToggles(document, () => ({ show: 'Show', hide: 'Hide' }));
const [session] = await Promise.all([api('GET', '/v1/session'), showPractice()]);
if (session.ok && session.data.authenticated && session.data.kind === 'staff') enter();
else show('login-view');
