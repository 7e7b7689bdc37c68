// The patient page, at a practice's own address (/p/{practice}/). The session lives in an
// HttpOnly cookie the page never sees; the only thing kept in the browser is the language chosen
// for this session. Views: loading, no practice, unknown practice, login, forgotten password, new
// password from a reset link (its token comes in the address's #fragment, never sent to a server
// log, and is dropped from the address at once), new password, home.
// Home is a dashboard (name, whose records, one card per feature) plus one tab per feature,
// each rendered by its own module, features/<FeatureKey>.js.
import { $, api, el, onSubmit, passwordToggles, resetPasswords, status, tabKeys } from './lib.js';
import { LANGUAGES, chooseLanguage, formatDate, language, setLanguage, t, translate } from './i18n.js';
import { renderSecurity } from './security.js';

const VIEWS = ['loading-view', 'nopractice-view', 'unknown-view', 'login-view', 'forgot-view', 'reset-view', 'password-view', 'home-view'];
const HOME = 'home';
const state = { practice: null, me: null, patientId: null, tab: HOME, view: 'loading-view', resetToken: null };

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

function show(view, focus = true) {
  state.view = view;
  for (const id of VIEWS) $(id).hidden = id !== view;
  $('logout').hidden = view !== 'home-view' && view !== 'password-view';
  if (!focus) return;
  const first = $(view).querySelector('input, select, [role=tab][aria-selected=true]');
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
  if (state.me) renderHome();
}

// ------------------------------------------------------------------ home

function features() {
  return state.me ? state.me.features : [];
}

function memberLabel(m) {
  return t('home.member.' + m.relationship, { name: m.name });
}

function renderHome() {
  const me = state.me;
  const self = me.family.find((m) => m.relationship === 'self');
  $('hello').textContent = t('home.hello', { name: self ? self.name : me.username });
  $('today').textContent = t('home.today', { date: formatDate(new Date(), 'full') });
  const picker = $('family-member');
  picker.replaceChildren(...me.family.map((m) => el('option', { value: m.patientId, selected: m.patientId === state.patientId }, memberLabel(m))));
  $('family').hidden = me.family.length < 2;

  const tabs = [{ key: HOME, label: t('home.tab') }, ...features().map((f) => ({ key: f.key, label: t(`feature.${f.key}.label`) }))];
  $('tabs').replaceChildren(...tabs.map((tab) => el('button', {
    type: 'button', role: 'tab', id: 'tab-' + tab.key, 'data-key': tab.key, 'aria-controls': 'panel-' + tab.key,
  }, tab.label)));
  $('panels').replaceChildren(...tabs.map((tab) => el('section', {
    className: 'card panel', id: 'panel-' + tab.key, role: 'tabpanel', tabIndex: 0, 'aria-labelledby': 'tab-' + tab.key, 'data-key': tab.key,
  })));
  if (!tabs.some((tab) => tab.key === state.tab)) state.tab = HOME;
  selectTab(state.tab);
  showBadges();
}

/** What needs the patient's attention, on the tabs from the start (a feature module may export
 * `badge(ctx)`, which marks its own tab: WebMail's unread count). */
async function showBadges() {
  for (const f of features().filter((x) => x.available)) {
    const module = await import(`./features/${f.key}.js`);
    if (module.badge) module.badge({ me: state.me, patientId: state.patientId });
  }
}

function renderDashboard(panel) {
  const list = features();
  // Two-step sign-in belongs to the login, not to a feature: it is on Home whatever is enabled.
  const security = el('section', { className: 'card security' });
  renderSecurity(security);
  if (!list.length) return panel.replaceChildren(el('p', {}, t('home.none')), security);
  panel.replaceChildren(el('ul', { className: 'dashboard' }, list.map((f) => {
    const label = t(`feature.${f.key}.label`);
    return el('li', { className: 'card', 'data-feature': f.key },
      el('h3', {}, label),
      el('p', {}, t(`feature.${f.key}.intro`)),
      f.available ? null : el('p', { className: 'badge' }, t('feature.coming')),
      el('button', { type: 'button', className: 'secondary', 'data-open': f.key, 'aria-label': `${t('home.open')}: ${label}` }, t('home.open')));
  })), security);
  return showHomeLines(panel);
}

/** What needs doing, on the feature's Home card: a feature module may export `home(ctx)`,
 * answering an element (Payments: the amount due now, with Pay) or null. */
async function showHomeLines(panel) {
  for (const f of features().filter((x) => x.available)) {
    const module = await import(`./features/${f.key}.js`);
    if (!module.home) continue;
    const line = await module.home({ me: state.me, patientId: state.patientId });
    const card = panel.querySelector(`[data-feature="${f.key}"]`);
    if (line && card && state.tab === HOME) card.querySelector('p').after(line);
  }
}

async function renderFeature(panel, key) {
  const module = await import(`./features/${key}.js`);
  module.render(panel, { me: state.me, patientId: state.patientId });
}

function selectTab(key) {
  state.tab = key;
  for (const b of $('tabs').querySelectorAll('[role=tab]')) {
    const on = b.dataset.key === key;
    b.setAttribute('aria-selected', String(on));
    b.tabIndex = on ? 0 : -1;
    if (on) b.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }
  for (const p of $('panels').children) p.hidden = p.dataset.key !== key;
  const panel = $('panel-' + key);
  if (key === HOME) renderDashboard(panel);
  else renderFeature(panel, key);
}

// ------------------------------------------------------------------ session

async function enter() {
  const r = await api('GET', '/v1/me');
  if (!r.ok || r.data.kind !== 'patient') return show('login-view');
  state.me = r.data;
  state.patientId = r.data.principalId;
  state.tab = HOME;
  const self = r.data.family.find((m) => m.relationship === 'self');
  chooseLanguage(self && self.preferredLanguage);
  $('language').value = language();
  paint();
  show('home-view');
}

async function start() {
  chooseLanguage();
  $('language').replaceChildren(...LANGUAGES.map((l) => el('option', { value: l.code, lang: l.code }, l.name)));
  $('language').value = language();
  passwordToggles(document, () => ({ show: t('common.show'), hide: t('common.hide') }));
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
  paintHeader();
  state.resetToken = takeResetToken();
  if (state.resetToken) return show('reset-view');
  const s = session.data;
  if (!s.authenticated || s.kind !== 'patient' || s.practiceId !== state.practice.id) return show('login-view');
  if (s.mustChangePassword) {
    const me = await api('GET', '/v1/me');
    state.username = me.ok ? me.data.username : '';
    $('pw-username').value = state.username;
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
  resetPasswords($('login-form'));
  if (r.data.mustChangePassword) {
    $('pw-current').value = body.password;
    state.username = body.username.toLowerCase();
    $('pw-username').value = state.username;
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
// A reset link opened while the page is already open here.
window.addEventListener('hashchange', () => {
  const token = state.practice && takeResetToken();
  if (token) {
    state.resetToken = token;
    show('reset-view');
  }
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

$('logout').addEventListener('click', async () => {
  await api('POST', '/v1/auth/logout');
  state.me = null;
  state.patientId = null;
  resetPasswords(document);
  $('login-code-row').hidden = true;
  show('login-view');
});

$('language').addEventListener('change', () => {
  setLanguage($('language').value);
  paint();
});

$('family-member').addEventListener('change', () => {
  state.patientId = $('family-member').value;
  selectTab(state.tab);
  showBadges();
});

$('panels').addEventListener('click', (e) => {
  const open = e.target.closest('[data-open]');
  if (!open) return;
  selectTab(open.dataset.open);
  $('tab-' + open.dataset.open).focus();
});

$('tabs').addEventListener('click', (e) => {
  const tab = e.target.closest('[role=tab]');
  if (tab) selectTab(tab.dataset.key);
});
tabKeys($('tabs'), selectTab);

start();
