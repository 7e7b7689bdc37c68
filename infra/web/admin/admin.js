// The staff setup page. Session in an HttpOnly cookie; nothing in browser storage. Each form sends
// the settings version it was filled from; a 409 means someone else saved first, and the page
// shows the values now stored.
'use strict';
// $, api() and status() come from /common.js.

let state = null; // { settings, featureCatalog, rules, canEdit }

function show(view) {
  $('login-view').hidden = view !== 'login';
  $('settings-view').hidden = view !== 'settings';
  $('logout').hidden = view !== 'settings';
  if (view === 'login') $('login-practice').focus();
}

function fill(settings) {
  state.settings = settings;
  $('practice-name').textContent = settings.practiceName + ' — portal setup';
  const box = $('feature-checks');
  box.querySelectorAll('label').forEach((l) => l.remove());
  for (const f of state.featureCatalog) {
    const label = document.createElement('label');
    const cb = document.createElement('input');
    cb.type = 'checkbox';
    cb.name = 'feature';
    cb.value = f.key;
    cb.id = 'feature-' + f.key;
    cb.checked = settings.features.includes(f.key);
    cb.disabled = !state.canEdit;
    const text = document.createElement('span');
    text.textContent = f.key + ' (' + f.label + ')';
    label.append(cb, text);
    box.append(label);
  }
  $('url-patient').value = settings.urls.patientFacingUrl || '';
  $('url-website').value = settings.urls.practiceWebsiteUrl || '';
  $('wm-sender').value = settings.webmail.notificationSender;
  $('wm-notify').value = settings.webmail.defaultNotifyAddress;
  $('wm-subject').value = settings.webmail.subject;
  $('wm-body').value = settings.webmail.bodyTemplate;
  const access = document.querySelector('input[name=family-access][value="' + (settings.familyAccess || 'guarantor') + '"]');
  if (access) access.checked = true;
  $('readonly-note').hidden = state.canEdit;
  for (const b of document.querySelectorAll('#settings-view button')) b.disabled = !state.canEdit;
  if (state.canEdit) checkBody();
}

/** Says before saving what the server would refuse in the body template. */
function checkBody() {
  const body = $('wm-body').value;
  let problem = '';
  if (!body.includes('[URL]')) problem = 'The body must contain [URL].';
  else {
    const unknown = (body.match(/\[[^\]]*\]?/g) || []).find((t) => !state.rules.templateTags.includes(t));
    if (unknown) problem = unknown + ' is not a known tag; use only [URL] and [PracticeName].';
  }
  $('wm-body-error').textContent = problem;
  $('wm-body').setAttribute('aria-invalid', String(Boolean(problem)));
  $('webmail-submit').disabled = Boolean(problem) || !state.canEdit;
  return !problem;
}

async function loadAudit() {
  const r = await api('GET', '/v1/admin/audit?limit=15');
  const rows = $('audit-rows');
  rows.replaceChildren();
  if (!r.ok) return;
  for (const e of r.data.entries) {
    const tr = document.createElement('tr');
    for (const v of [new Date(e.at * 1000).toLocaleString(), e.actor, e.action, e.outcome]) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.append(td);
    }
    rows.append(tr);
  }
}

async function loadSyncKeys() {
  const r = await api('GET', '/v1/admin/sync-keys');
  const rows = $('sync-rows');
  rows.replaceChildren();
  if (!r.ok) return;
  for (const k of r.data.keys) {
    const tr = document.createElement('tr');
    const keyState = k.revokedAt ? 'revoked ' + new Date(k.revokedAt * 1000).toLocaleDateString() : 'active';
    for (const v of [k.label, k.keyId, new Date(k.createdAt * 1000).toLocaleDateString(), keyState]) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.append(td);
    }
    const td = document.createElement('td');
    if (!k.revokedAt) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'secondary';
      b.textContent = 'Revoke';
      b.setAttribute('aria-label', 'Revoke ' + k.label);
      b.disabled = !state.canEdit;
      b.addEventListener('click', async () => {
        if (!confirm('Revoke "' + k.label + '"? The practice system using it will stop syncing at once.')) return;
        const res = await api('DELETE', '/v1/admin/sync-keys/' + encodeURIComponent(k.keyId));
        status('sync-status', res.ok ? 'Key revoked.' : ((res.data && res.data.detail) || 'Not revoked.'), res.ok);
        loadSyncKeys();
        loadAudit();
      });
      td.append(b);
    }
    tr.append(td);
    rows.append(tr);
  }
}

async function load() {
  const r = await api('GET', '/v1/admin/settings');
  if (!r.ok) return show('login');
  state = { featureCatalog: r.data.featureCatalog, rules: r.data.rules, canEdit: r.data.canEdit };
  fill(r.data.settings);
  show('settings');
  loadSyncKeys();
  loadAudit();
}

/** Sends one section; handles conflict (409) by showing the stored values. */
async function save(path, body, statusId, okText) {
  const r = await api('PUT', path, { ...body, version: state.settings.version });
  if (r.ok) {
    fill(r.data.settings);
    status(statusId, okText, true);
    loadAudit();
  } else if (r.status === 409 && r.data && r.data.current) {
    fill(r.data.current);
    status(statusId, r.data.detail);
  } else if (r.status === 401) {
    show('login');
  } else {
    status(statusId, (r.data && r.data.detail) || 'Not saved.');
  }
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = { practice: $('login-practice').value.trim(), username: $('login-username').value.trim(), password: $('login-password').value, totp: $('login-totp').value.trim() };
  if (!body.practice || !body.username || !body.password || !/^\d{6}$/.test(body.totp)) return status('login-status', 'Fill in all fields; the code has 6 digits.');
  const r = await api('POST', '/v1/staff/login', body);
  $('login-password').value = '';
  $('login-totp').value = '';
  if (!r.ok) return status('login-status', (r.data && r.data.detail) || 'Login failed.');
  status('login-status', '');
  load();
});

$('features-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const features = [...document.querySelectorAll('input[name=feature]:checked')].map((c) => c.value);
  save('/v1/admin/settings/features', { features }, 'features-status', 'Features saved.');
});

$('urls-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const patient = $('url-patient').value.trim();
  if (patient && state.rules.httpsRequired && !patient.startsWith('https://')) return status('urls-status', 'The patient-facing URL must start with https://.');
  save('/v1/admin/settings/urls', { patientFacingUrl: patient || null, practiceWebsiteUrl: $('url-website').value.trim() || null }, 'urls-status', 'URLs saved.');
});

for (const b of document.querySelectorAll('[data-verify]')) {
  b.addEventListener('click', async () => {
    const input = b.dataset.verify;
    const out = input + '-verify';
    const url = $(input).value.trim();
    if (!url) return status(out, 'Enter a URL first.');
    status(out, 'Checking…', true);
    b.disabled = true;
    const r = await api('POST', '/v1/admin/settings/urls/verify', { url });
    b.disabled = false;
    if (!r.ok) return status(out, (r.data && r.data.detail) || 'Could not verify.');
    status(out, (r.data.reachable ? 'Reachable. ' : 'Not reachable. ') + r.data.detail + ' (' + r.data.elapsedMs + ' ms)', r.data.reachable);
  });
}

$('wm-body').addEventListener('input', checkBody);

$('sync-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const label = $('sync-label').value.trim();
  if (!label) return status('sync-status', 'Give the key a name first.');
  const r = await api('POST', '/v1/admin/sync-keys', { label });
  if (!r.ok) return status('sync-status', (r.data && r.data.detail) || 'No key was made.');
  $('sync-label').value = '';
  $('sync-secret-id').textContent = r.data.key.keyId;
  $('sync-secret-value').textContent = r.data.secret;
  $('sync-secret').hidden = false;
  status('sync-status', 'Key created.', true);
  loadSyncKeys();
  loadAudit();
});

$('webmail-form').addEventListener('submit', (e) => {
  e.preventDefault();
  if (!checkBody()) return;
  save('/v1/admin/settings/webmail', {
    notificationSender: $('wm-sender').value.trim(),
    defaultNotifyAddress: $('wm-notify').value.trim(),
    subject: $('wm-subject').value.trim(),
    bodyTemplate: $('wm-body').value,
  }, 'webmail-status', 'WebMail settings saved.');
});

$('family-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const chosen = document.querySelector('input[name=family-access]:checked');
  if (!chosen) return status('family-status', 'Choose one.');
  save('/v1/admin/settings/family-access', { familyAccess: chosen.value }, 'family-status', 'Family access saved.');
});

$('logout').addEventListener('click', async () => {
  await api('POST', '/v1/auth/logout');
  state = null;
  $('sync-secret').hidden = true;
  $('sync-secret-value').textContent = '';
  show('login');
});

$('login-practice').value = new URLSearchParams(location.search).get('practice') || '';
load();
