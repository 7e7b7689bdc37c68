// The patient page, at a practice's own address (/p/{practice}/). The session lives in an
// HttpOnly cookie the page never sees; all that is kept in the browser is the language chosen on
// this device and, when the patient asks, their username. Screens: loading, no practice, unknown practice, login, forgotten password,
// new password from a reset link (its token comes in the address's #fragment, never sent to a
// server log, and is dropped from the address at once), new password, the portal.
// The portal is Home plus one view per feature (features/<FeatureKey>.js), each at its own address
// (#/home, #/messages, …): Back and Forward move between views, a link to a view opens it after
// sign-in, and a session that ends on the way is picked up again (session.js).
import { $, api, el, onSubmit, passwordToggles, resetPasswords, status } from './lib.js';
import { LANGUAGES, chooseLanguage, formatDate, language, setLanguage, t, translate } from './i18n.js';
import { renderHome } from './home.js';
import { paintContact, setPractice } from './contact.js';
import { renderMyAccount, rememberUsername, rememberedUsername } from './my-account.js';
import { guardSession, signedInAgain, stopGuard, wireSessionDialogs } from './session.js';

const SCREENS = ['loading-view', 'nopractice-view', 'unknown-view', 'login-view', 'forgot-view', 'reset-view', 'password-view', 'home-view'];
const HOME = 'home';
/** My account: not a feature, there for every patient. */
const ME = 'me';
/** Each view's address (#/{slug}). */
const SLUGS = {
  [HOME]: 'home', MakeAppointments: 'appointments', ModuleWebMail: 'messages', ModuleAccount: 'account', MakePayments: 'payments',
  ModuleTreatmentPlan: 'treatment-plans', ModuleCareSummary: 'care-summary', ModuleImages: 'images', [ME]: 'my-account',
};
/** On a phone the bottom bar holds this many views; the rest are under "More". */
const BAR_SIZE = 4;
const state = { practice: null, me: null, patientId: null, view: HOME, screen: 'loading-view', resetToken: null };

/** The view an address names (#/messages → ModuleWebMail), or null. */
function viewFromAddress() {
  const m = location.hash.match(/^#\/([a-z-]+)$/);
  const found = m && Object.entries(SLUGS).find(([, slug]) => slug === m[1]);
  return found ? found[0] : null;
}

/** A reset link's token, taken out of the address so it is not kept in history or shared. */
function takeResetToken() {
  const m = location.hash.match(/^#reset=([A-Za-z0-9._-]{1,200})$/);
  if (!m) return null;
  history.replaceState(null, '', location.pathname);
  return m[1];
}

/** The practice this address names: /p/{practice}/ (an old ?practice= link is sent there). */
function practiceFromAddress() {
  const m = location.pathname.match(/^\/p\/([^/]+)\/$/);
  if (m) return decodeURIComponent(m[1]);
  const legacy = new URLSearchParams(location.search).get('practice');
  if (legacy && /^[a-z0-9._-]{2,64}$/.test(legacy)) location.replace('/p/' + encodeURIComponent(legacy) + '/');
  return null;
}

function show(screen) {
  state.screen = screen;
  for (const id of SCREENS) $(id).hidden = id !== screen;
  $('logout').hidden = screen !== 'home-view' && screen !== 'password-view';
  paintViewing();
  if (screen === 'home-view') return;
  const first = $(screen).querySelector('input, select');
  if (first) first.focus();
}

function paintHeader() {
  const name = state.practice ? state.practice.name : t('app.title');
  $('practice-name').textContent = name;
  document.title = state.practice ? `${name} · ${t('app.title')}` : t('app.title');
  $('login-intro').textContent = state.practice ? t('login.intro', { practice: state.practice.name }) : '';
}

/** Re-renders every text in the current language (the switcher calls this). */
function paint() {
  translate(document);
  paintHeader();
  if (state.me) renderPortal();
}

// ------------------------------------------------------------------ the portal

function features() {
  return state.me ? state.me.features : [];
}

function memberLabel(m) {
  return t('home.member.' + m.relationship, { name: m.name });
}

/** The person whose records are open, in the header whenever it is not the viewer. */
function paintViewing() {
  const member = state.me && state.screen === 'home-view' && state.me.family.find((m) => m.patientId === state.patientId);
  const other = member && member.relationship !== 'self';
  $('viewing').hidden = !other;
  $('viewing').textContent = other ? t('home.viewingNow', { name: member.name }) : '';
}

function renderPortal() {
  const me = state.me;
  const self = me.family.find((m) => m.relationship === 'self');
  $('hello').textContent = t('home.hello', { name: self ? self.name : me.username });
  $('today').textContent = t('home.today', { date: formatDate(new Date(), 'full') });
  const picker = $('family-member');
  picker.replaceChildren(...me.family.map((m) => el('option', { value: m.patientId, selected: m.patientId === state.patientId }, memberLabel(m))));
  $('family').hidden = me.family.length < 2;
  paintViewing();

  const views = [{ key: HOME, label: t('home.tab') }, ...features().map((f) => ({ key: f.key, label: t(`feature.${f.key}.label`) })), { key: ME, label: t('myaccount.title') }];
  const link = (v) => el('a', { href: '#/' + SLUGS[v.key], 'data-view': v.key }, v.label);
  // Wide screens list every view at the side; a phone's bottom bar the first few, and "More" the rest.
  const overflow = views.length > BAR_SIZE + 1 ? views.slice(BAR_SIZE) : [];
  $('view-list').replaceChildren(...views.map((v, i) => el('li', { className: overflow.length && i >= BAR_SIZE ? 'overflow' : '' }, link(v))));
  $('more-list').replaceChildren(...overflow.map((v) => el('li', {}, link(v))));
  $('more').hidden = !overflow.length;
  $('panels').replaceChildren(...views.map((v) => el('section', {
    className: 'card panel', id: 'panel-' + v.key, tabIndex: -1, 'aria-label': v.label, 'data-key': v.key,
  })));
  openView(views.some((v) => v.key === state.view) ? state.view : HOME);
  showBadges();
}

/** What needs the patient's attention, on the navigation from the start (a feature module may
 * export `badge(ctx)`, which marks its own view's links: WebMail's unread count). */
async function showBadges() {
  for (const f of features().filter((x) => x.available)) {
    const module = await import(`./features/${f.key}.js`);
    if (module.badge) module.badge({ me: state.me, patientId: state.patientId });
  }
}

/** Opens feature `key`'s view for `patientId` (a Home to-do about a family member). */
function openFor(key, patientId) {
  state.patientId = patientId;
  $('family-member').value = patientId;
  paintViewing();
  location.hash = '#/' + SLUGS[key];
}

async function renderFeature(panel, key) {
  const module = await import(`./features/${key}.js`);
  module.render(panel, { me: state.me, patientId: state.patientId });
}

/** Shows view `key` (the address already names it) and renders it for the person being viewed. */
function openView(key) {
  state.view = key;
  for (const a of document.querySelectorAll('nav.views a[data-view]')) {
    if (a.dataset.view === key) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  $('more').classList.toggle('current', [...$('more-list').querySelectorAll('a')].some((a) => a.dataset.view === key));
  closeMore();
  for (const p of $('panels').children) p.hidden = p.dataset.key !== key;
  const panel = $('panel-' + key);
  if (key === HOME) renderHome(panel, { me: state.me, open: openFor, slug: (k) => SLUGS[k] });
  else if (key === ME) renderMyAccount(panel, { me: state.me, problemText });
  else renderFeature(panel, key);
  return panel;
}

/** The address changed (a link, Back, Forward, a link from an email): show that view. */
function followAddress() {
  const key = viewFromAddress();
  if (!state.me || state.screen !== 'home-view') return;
  if (!key || !$('panel-' + key)) {
    // An address for a view this practice does not offer (or none): Home, in its place.
    history.replaceState(null, '', '#/' + SLUGS[HOME]);
    return openView(HOME).focus();
  }
  if (key !== state.view || $('panel-' + key).hidden) openView(key).focus();
  return undefined;
}

function closeMore() {
  $('more-list').hidden = true;
  $('more').setAttribute('aria-expanded', 'false');
}

// ------------------------------------------------------------------ session

/** Signed in: the portal at the view the address names (Home when none), focus on the greeting. */
async function enter() {
  const [r, session] = await Promise.all([api('GET', '/v1/me'), api('GET', '/v1/session')]);
  if (!r.ok || r.data.kind !== 'patient') return show('login-view');
  state.me = r.data;
  state.patientId = r.data.principalId;
  state.view = viewFromAddress() || HOME;
  if (!viewFromAddress()) history.replaceState(null, '', '#/' + SLUGS[HOME]);
  speak(r.data);
  show('home-view');
  paint();
  $('hello').focus();
  guardSession({ idleSeconds: (session.ok && session.data.idleSeconds) || 840, warning: $('idle-dialog'), signin: $('signin-dialog'), leave: logout });
  paintSignin();
}

/** The page in the signed-in patient's preferred language (unless chosen on this device). */
function speak(me) {
  const self = me.family.find((m) => m.relationship === 'self');
  chooseLanguage(self && self.preferredLanguage);
  $('language').value = language();
  translate(document);
  paintHeader();
}

/** The sign-in-again dialog names who signs in (the same person: what was on the page is theirs). */
function paintSignin() {
  if (!state.me) return;
  $('signin-who').textContent = t('session.who', { username: state.me.username });
  $('signin-username').value = state.me.username;
}

async function logout() {
  stopGuard();
  await api('POST', '/v1/auth/logout');
  state.me = null;
  state.patientId = null;
  resetPasswords(document);
  // The username stays only where the patient asked this device to remember it.
  $('login-username').value = rememberedUsername();
  $('login-remember').checked = Boolean(rememberedUsername());
  $('login-code-row').hidden = true;
  $('panels').replaceChildren();
  history.replaceState(null, '', location.pathname);
  show('login-view');
}

async function start() {
  chooseLanguage();
  $('language').replaceChildren(...LANGUAGES.map((l) => el('option', { value: l.code, lang: l.code }, l.name)));
  $('language').value = language();
  passwordToggles(document, () => ({ show: t('common.show'), hide: t('common.hide') }));
  $('login-username').value = rememberedUsername();
  $('login-remember').checked = Boolean(rememberedUsername());
  paint();
  const id = practiceFromAddress();
  if (!id) return show('nopractice-view');
  const [practice, session] = await Promise.all([api('GET', '/v1/practices/' + encodeURIComponent(id)), api('GET', '/v1/session')]);
  if (practice.status === 404) return show('unknown-view');
  if (!practice.ok || !session.ok) {
    show('login-view');
    return status('login-status', t(practice.status === 0 ? 'error.network' : 'error.generic'));
  }
  state.practice = practice.data;
  setPractice(practice.data);
  $('contact-open').hidden = false;
  paintHeader();
  state.resetToken = takeResetToken();
  if (state.resetToken) return show('reset-view');
  const s = session.data;
  if (!s.authenticated || s.kind !== 'patient' || s.practiceId !== state.practice.id) return show('login-view');
  if (s.mustChangePassword) {
    const me = await api('GET', '/v1/me');
    state.username = me.ok ? me.data.username : '';
    $('pw-username').value = state.username;
    if (me.ok) speak(me.data);
    return show('password-view');
  }
  return enter();
}

function problemText(r, fallbackKey) {
  if (r.status === 0) return t('error.network');
  const code = r.data && r.data.code;
  const known = {
    login_failed: 'login.failed', password_too_common: 'password.common', password_too_short: 'password.short',
    password_too_long: 'password.long', password_unchanged: 'password.unchanged', current_password_wrong: 'password.wrongCurrent',
    reset_link_invalid: 'reset.invalid', username_taken: 'password.usernameTaken', username_invalid: 'password.usernameInvalid',
    email_invalid: 'myaccount.emailInvalid',
  }[code];
  return t(known || fallbackKey);
}

onSubmit($('login-form'), async () => {
  status('login-status', '');
  const body = { practice: state.practice.id, username: $('login-username').value.trim(), password: $('login-password').value };
  if (!body.username || !body.password) return status('login-status', t('login.missing'));
  // Two-step sign-in: the app's 6 digits, or a recovery code.
  const code = $('login-code').value.trim();
  if (code) body[/^\d{6}$/.test(code) ? 'totp' : 'recoveryCode'] = code;
  const r = await api('POST', '/v1/auth/login', body);
  $('login-code').value = '';
  if (!r.ok) return status('login-status', problemText(r, r.status === 401 ? 'login.failed' : 'error.generic'));
  if (r.data.mfaRequired) {
    $('login-code-row').hidden = false;
    $('login-code').focus();
    return status('login-status', t('login.codeNeeded'));
  }
  $('login-code-row').hidden = true;
  rememberUsername(body.username, $('login-remember').checked);
  resetPasswords($('login-form'));
  if (r.data.mustChangePassword) {
    $('pw-current').value = body.password;
    state.username = body.username.toLowerCase();
    $('pw-username').value = state.username;
    const me = await api('GET', '/v1/me');
    if (me.ok) speak(me.data);
    return show('password-view');
  }
  return enter();
});

$('forgot-open').addEventListener('click', () => {
  $('forgot-who').value = $('login-username').value.trim();
  status('forgot-status', '');
  show('forgot-view');
});
$('forgot-back').addEventListener('click', () => show('login-view'));
// A reset link opened while the page is already open here, or another view's address.
window.addEventListener('hashchange', () => {
  const token = state.practice && takeResetToken();
  if (token) {
    state.resetToken = token;
    return show('reset-view');
  }
  return followAddress();
});

onSubmit($('forgot-form'), async () => {
  const who = $('forgot-who').value.trim();
  if (!who) return status('forgot-status', t('forgot.who'));
  const r = await api('POST', '/v1/auth/forgot', { practice: state.practice.id, usernameOrEmail: who });
  // The same answer whatever was asked: the page cannot tell either.
  return status('forgot-status', r.status === 0 ? t('error.network') : t('forgot.sent'), r.ok);
});

onSubmit($('reset-form'), async () => {
  const next = $('reset-new').value;
  if (next !== $('reset-confirm').value) return status('reset-status', t('password.differ'));
  if (next.length < 8) return status('reset-status', t('password.short'));
  const r = await api('POST', '/v1/auth/reset', { token: state.resetToken, newPassword: next });
  if (!r.ok) return status('reset-status', problemText(r, 'error.generic'));
  state.resetToken = null;
  resetPasswords($('reset-form'));
  show('login-view');
  return status('login-status', t('reset.done'), true);
});

onSubmit($('password-form'), async () => {
  const next = $('pw-new').value;
  if (next !== $('pw-confirm').value) return status('password-status', t('password.differ'));
  if (next.length < 8) return status('password-status', t('password.short'));
  const change = { currentPassword: $('pw-current').value, newPassword: next };
  const username = $('pw-username').value.trim().toLowerCase();
  if (username && username !== (state.username || '').toLowerCase()) change.newUsername = username;
  const r = await api('POST', '/v1/auth/password', change);
  if (!r.ok) return status('password-status', problemText(r, 'error.generic'));
  status('password-status', '');
  resetPasswords($('password-form'));
  return enter();
});

$('logout').addEventListener('click', logout);

$('contact-open').addEventListener('click', () => {
  paintContact($('contact-dialog'));
  $('contact-dialog').showModal();
});
$('contact-dialog').addEventListener('click', (e) => {
  if (e.target.closest('[data-close]')) $('contact-dialog').close();
});

/** A signed-in patient's language choice is also their preferred language at the office (emails
 * follow it): the profile as it stands, pending changes kept, with this language. */
async function preferLanguage(code) {
  const r = await api('GET', '/v1/me/profile');
  if (!r.ok) return;
  const p = r.data;
  const pending = p.pending || {};
  if ((pending.preferredLanguage || p.preferredLanguage) === code) return;
  const change = { emailNotices: pending.emailNotices ?? p.emailNotices, preferredLanguage: code };
  const email = pending.email || p.email;
  const mobile = pending.mobilePhone || p.mobilePhone;
  if (email) change.email = email;
  if (mobile) change.mobilePhone = mobile;
  const saved = await api('PUT', '/v1/me/profile', change);
  if (saved.ok && state.view === ME) renderPortal();
}

$('language').addEventListener('change', () => {
  setLanguage($('language').value);
  paint();
  paintSignin();
  if (state.me && state.screen === 'home-view') preferLanguage($('language').value);
});

$('family-member').addEventListener('change', () => {
  state.patientId = $('family-member').value;
  paintViewing();
  openView(state.view);
  showBadges();
});

// The open view's own link shows it afresh (its address does not change, so nothing else would).
document.querySelector('nav.views').addEventListener('click', (e) => {
  const link = e.target.closest('a[data-view]');
  if (link && link.getAttribute('href') === location.hash) openView(link.dataset.view).focus();
});

$('more').addEventListener('click', () => {
  const open = $('more-list').hidden;
  $('more-list').hidden = !open;
  $('more').setAttribute('aria-expanded', String(open));
  if (open) $('more-list').querySelector('a').focus();
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !$('more-list').hidden) {
    closeMore();
    $('more').focus();
  }
});
document.addEventListener('click', (e) => {
  if (!e.target.closest('nav.views')) closeMore();
});

// Signing in again after the session ended: the same person, so the page as it was is theirs.
onSubmit($('signin-form'), async () => {
  const body = { practice: state.practice.id, username: state.me.username, password: $('signin-password').value };
  if (!body.password) return status('signin-status', t('login.missing'));
  const code = $('signin-code').value.trim();
  if (code) body[/^\d{6}$/.test(code) ? 'totp' : 'recoveryCode'] = code;
  const r = await api('POST', '/v1/auth/login', body);
  $('signin-code').value = '';
  if (!r.ok) return status('signin-status', problemText(r, r.status === 401 ? 'login.failed' : 'error.generic'));
  if (r.data.mfaRequired) {
    $('signin-code-row').hidden = false;
    $('signin-code').focus();
    return status('signin-status', t('login.codeNeeded'));
  }
  // A temporary password cannot be what signed in again: start over on the login page.
  if (r.data.mustChangePassword) return location.reload();
  $('signin-code-row').hidden = true;
  status('signin-status', '');
  resetPasswords($('signin-form'));
  return signedInAgain();
});
wireSessionDialogs($('idle-dialog'), $('signin-dialog'), logout);

start();
