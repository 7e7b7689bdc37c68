// The patient page. The session lives in an HttpOnly cookie the page never sees; nothing is kept in
// browser storage. Every answer from the API is JSON; errors are problem bodies with a `detail`.
'use strict';
// $, api() and status() come from /common.js.

function show(view) {
  for (const id of ['login-view', 'password-view', 'home-view']) $(id).hidden = id !== view;
  $('logout').hidden = view === 'login-view';
  const first = $(view).querySelector('input, button');
  if (first) first.focus();
}

const PANEL_TEXT = {
  MakePayments: 'Pay your balance online.',
  ModuleAccount: 'Your balance, ledger and statements.',
  ModuleWebMail: 'Secure messages with the office.',
  ModuleCareSummary: 'View, download and send your care summary.',
  ModuleImages: 'Images and documents your practice shared with you.',
  MakeAppointments: 'Your appointments, confirmations and scheduling.',
  ModuleTreatmentPlan: 'Your treatment plans and estimates.',
};

function selectTab(key) {
  for (const b of $('tabs').querySelectorAll('button')) {
    const on = b.dataset.key === key;
    b.setAttribute('aria-selected', String(on));
    b.tabIndex = on ? 0 : -1;
  }
  for (const p of $('panels').children) p.hidden = p.dataset.key !== key;
}

// One listener for the page's life: the tabs are re-rendered at every login, the listener is not
// (a listener added per render would move the selection once per login).
$('tabs').addEventListener('keydown', (e) => {
  const keys = [...$('tabs').querySelectorAll('button')].map((b) => b.dataset.key);
  const current = keys.indexOf(document.activeElement && document.activeElement.dataset.key);
  if (current < 0 || (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft')) return;
  const next = keys[(current + (e.key === 'ArrowRight' ? 1 : keys.length - 1)) % keys.length];
  selectTab(next);
  $('tab-' + next).focus();
});

function renderHome(me) {
  $('practice-name').textContent = me.practice.name || 'Patient portal';
  $('welcome').textContent = 'Logged in as ' + me.username + '.';
  const tabs = $('tabs');
  const panels = $('panels');
  tabs.replaceChildren();
  panels.replaceChildren();
  for (const f of me.features) {
    const b = document.createElement('button');
    b.type = 'button';
    b.role = 'tab';
    b.id = 'tab-' + f.key;
    b.dataset.key = f.key;
    b.textContent = f.label;
    b.setAttribute('aria-controls', 'panel-' + f.key);
    b.addEventListener('click', () => selectTab(f.key));
    tabs.append(b);
    const p = document.createElement('section');
    p.className = 'card';
    p.id = 'panel-' + f.key;
    p.dataset.key = f.key;
    p.setAttribute('role', 'tabpanel');
    p.setAttribute('aria-labelledby', b.id);
    const h = document.createElement('h2');
    h.textContent = f.label;
    const t = document.createElement('p');
    t.textContent = PANEL_TEXT[f.key] || '';
    p.append(h, t);
    panels.append(p);
  }
  $('no-features').hidden = me.features.length > 0;
  if (me.features.length) selectTab(me.features[0].key);
  show('home-view');
}

async function route() {
  const r = await api('GET', '/v1/me');
  if (r.status === 401 || !r.ok) return show('login-view');
  if (r.data.kind !== 'patient') return show('login-view');
  if (r.data.mustChangePassword) return show('password-view');
  renderHome(r.data);
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  status('login-status', '');
  const body = { practice: $('login-practice').value.trim(), username: $('login-username').value.trim(), password: $('login-password').value };
  if (!body.practice || !body.username || !body.password) return status('login-status', 'Fill in all three fields.');
  const r = await api('POST', '/v1/auth/login', body);
  $('login-password').value = '';
  if (!r.ok) return status('login-status', (r.data && r.data.detail) || 'Login failed.');
  if (r.data.mustChangePassword) {
    $('pw-current').value = body.password;
    return show('password-view');
  }
  route();
});

$('password-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const current = $('pw-current').value;
  const next = $('pw-new').value;
  if (next !== $('pw-confirm').value) return status('password-status', 'The two new passwords differ.');
  if (next.length < 8) return status('password-status', 'Use at least 8 characters.');
  const r = await api('POST', '/v1/auth/password', { currentPassword: current, newPassword: next });
  if (!r.ok) return status('password-status', (r.data && r.data.detail) || 'The password could not be changed.');
  for (const id of ['pw-current', 'pw-new', 'pw-confirm']) $(id).value = '';
  route();
});

$('logout').addEventListener('click', async () => {
  await api('POST', '/v1/auth/logout');
  show('login-view');
});

$('login-practice').value = new URLSearchParams(location.search).get('practice') || '';
route();
