// The setup screen's four settings sections. Each section saves on its own with its own version:
// a save answers the stored settings, and only sections without unsaved input are refreshed from
// it. On a conflict (someone saved the same section first) the typed input stays, the section
// says what is stored now, and a second Save replaces it.
import { $, api, busy, copy, el, onSubmit, status } from '/lib.js';

let page = null; // { settings, featureCatalog, rules, canEdit, portalPath }
const versions = {};
const stored = {}; // per section: the stored value (JSON) the form is compared with

const featureLabel = (key) => (page.featureCatalog.find((f) => f.key === key) || { label: key }).label;
const FAMILY = { guarantor: 'The guarantor sees the whole family', self: 'Everyone sees only their own records' };

const SECTIONS = {
  features: {
    path: '/v1/admin/settings/features',
    value: (s) => ({ features: page.featureCatalog.map((f) => f.key).filter((k) => s.features.includes(k)) }),
    read: () => ({ features: [...document.querySelectorAll('input[name=feature]:checked')].map((c) => c.value) }),
    fill: (v) => { for (const c of document.querySelectorAll('input[name=feature]')) c.checked = v.features.includes(c.value); },
    describe: (v) => (v.features.length ? 'turned on: ' + v.features.map(featureLabel).join(', ') : 'no features turned on'),
    body: (v) => v,
  },
  urls: {
    path: '/v1/admin/settings/urls',
    value: (s) => ({ patientFacingUrl: s.urls.patientFacingUrl || '', practiceWebsiteUrl: s.urls.practiceWebsiteUrl || '' }),
    read: () => ({ patientFacingUrl: $('url-patient').value.trim(), practiceWebsiteUrl: $('url-website').value.trim() }),
    fill: (v) => { $('url-patient').value = v.patientFacingUrl; $('url-website').value = v.practiceWebsiteUrl; },
    describe: (v) => `patient-facing URL ${v.patientFacingUrl || '(your portal link)'}, website ${v.practiceWebsiteUrl || '(none)'}`,
    check: (v) => (v.patientFacingUrl && page.rules.httpsRequired && !v.patientFacingUrl.startsWith('https://')
      ? 'The patient-facing URL must start with https://.' : ''),
    body: (v) => ({ patientFacingUrl: v.patientFacingUrl || null, practiceWebsiteUrl: v.practiceWebsiteUrl || null }),
  },
  webmail: {
    path: '/v1/admin/settings/webmail',
    value: (s) => ({ ...s.webmail }),
    read: () => ({
      notificationSender: $('wm-sender').value.trim(), defaultNotifyAddress: $('wm-notify').value.trim(),
      subject: $('wm-subject').value.trim(), bodyTemplate: $('wm-body').value, subjectEs: $('wm-subject-es').value.trim(), bodyTemplateEs: $('wm-body-es').value,
    }),
    fill: (v) => {
      $('wm-sender').value = v.notificationSender; $('wm-notify').value = v.defaultNotifyAddress;
      $('wm-subject').value = v.subject; $('wm-body').value = v.bodyTemplate; $('wm-subject-es').value = v.subjectEs; $('wm-body-es').value = v.bodyTemplateEs;
    },
    describe: (v) => `from ${v.notificationSender}, office told at ${v.defaultNotifyAddress}, subject "${v.subject}"`,
    check: () => bodyProblem(),
    body: (v) => v,
  },
  familyAccess: {
    path: '/v1/admin/settings/family-access',
    value: (s) => ({ familyAccess: s.familyAccess || 'guarantor' }),
    read: () => ({ familyAccess: (document.querySelector('input[name=family-access]:checked') || {}).value }),
    fill: (v) => { for (const r of document.querySelectorAll('input[name=family-access]')) r.checked = r.value === v.familyAccess; },
    describe: (v) => FAMILY[v.familyAccess].toLowerCase(),
    body: (v) => v,
  },
  contact: {
    path: '/v1/admin/settings/contact',
    value: (s) => ({ phone: '', address: '', hours: '', appointmentRequests: true, ...s.contact }),
    read: () => ({
      phone: $('contact-phone').value.trim(), address: $('contact-address').value.trim(), hours: $('contact-hours').value.trim(),
      appointmentRequests: $('contact-requests').checked,
    }),
    fill: (v) => {
      $('contact-phone').value = v.phone; $('contact-address').value = v.address; $('contact-hours').value = v.hours;
      $('contact-requests').checked = v.appointmentRequests;
    },
    describe: (v) => `phone ${v.phone || '(none)'}, address ${v.address.replace(/\n/g, ', ') || '(none)'}`,
    check: (v) => (v.phone && !/^[0-9 ()+.x-]*$/.test(v.phone) ? 'The phone number is digits with spaces, ( ) + - . or x for an extension.' : ''),
    body: (v) => v,
  },
};

const formOf = (name) => document.querySelector(`[data-section-form="${name}"]`);
const statusOf = (name) => formOf(name).querySelector(':scope > .status');
const isDirty = (name) => JSON.stringify(SECTIONS[name].read()) !== stored[name];

function markDirty(name) {
  const dirty = isDirty(name);
  formOf(name).querySelector('.dirty').hidden = !dirty;
  if (dirty && statusOf(name).classList.contains('good')) status(statusOf(name), '');
}

/** Takes the stored settings: remembers each section's version and stored value, and fills the
 * forms that hold no unsaved input (plus `force`d ones). */
function take(settings, force = []) {
  $('practice-name').textContent = settings.practiceName + ' · portal setup';
  for (const [name, section] of Object.entries(SECTIONS)) {
    const refill = force.includes(name) || !stored[name] || !isDirty(name);
    versions[name] = settings.versions[name];
    stored[name] = JSON.stringify(section.value(settings));
    if (refill) section.fill(section.value(settings));
    markDirty(name);
  }
  if (page.canEdit) bodyProblem();
  $('email-setup-note').hidden = Boolean(settings.webmail.notificationSender);
  $('email-setup-go').hidden = !page.canEdit;
}

/** Says before saving what the server would refuse in either language's body template. */
function bodyProblem() {
  const problems = [['wm-body', 'wm-body-error', 'The email text'], ['wm-body-es', 'wm-body-es-error', 'The Spanish email text']].map(([id, errorId, what]) => {
    const body = $(id).value;
    let problem = '';
    if (!body.includes('[URL]')) problem = `${what} must contain [URL].`;
    else {
      const unknown = (body.match(/\[[^\]]*\]?/g) || []).find((tag) => !page.rules.templateTags.includes(tag));
      if (unknown) problem = unknown + ' is not a known tag; use only [URL] and [PracticeName].';
    }
    $(errorId).textContent = problem;
    $(id).setAttribute('aria-invalid', String(Boolean(problem)));
    return problem;
  }).filter(Boolean);
  $('webmail-submit').disabled = problems.length > 0 || !page.canEdit;
  return problems[0] || '';
}

async function save(name, onSaved) {
  const section = SECTIONS[name];
  const value = section.read();
  const problem = section.check ? section.check(value) : '';
  if (problem) return status(statusOf(name), problem);
  const r = await api('PUT', section.path, { ...section.body(value), version: versions[name] });
  if (r.ok) {
    take(r.data.settings, [name]);
    status(statusOf(name), 'Saved.', true);
    return onSaved();
  }
  if (r.status === 409 && r.data && r.data.current) {
    take(r.data.current);
    const now = section.describe(section.value(r.data.current));
    return status(statusOf(name), `Someone else saved this section while you were editing; it is now: ${now}. Your changes are still here: Save again to replace it.`);
  }
  return status(statusOf(name), r.status === 0 ? 'The portal could not be reached; nothing was saved.' : ((r.data && r.data.detail) || 'Not saved.'));
}

/** Fills the setup screen from GET /v1/admin/settings. */
export function showSettings(settingsPage, onSaved) {
  page = settingsPage;
  const link = location.origin + page.portalPath;
  $('portal-link').href = page.portalPath;
  $('portal-link').textContent = link;
  $('url-patient').placeholder = link;
  const staff = page.portalPath + 'staff/';
  for (const a of [$('staff-link'), ...document.querySelectorAll('a.staff-address')]) {
    a.href = staff;
    a.textContent = location.origin + staff;
  }
  const box = $('feature-checks');
  box.querySelectorAll('label').forEach((l) => l.remove());
  for (const f of page.featureCatalog) {
    box.append(el('label', {},
      el('input', { type: 'checkbox', name: 'feature', value: f.key, id: 'feature-' + f.key, disabled: !page.canEdit }),
      el('span', {}, f.label),
      f.available ? null : el('span', { className: 'badge off' }, 'not available yet')));
  }
  $('readonly-note').hidden = page.canEdit;
  for (const b of document.querySelectorAll('#section-setup form button')) b.disabled = !page.canEdit;
  for (const name of Object.keys(SECTIONS)) delete stored[name];
  take(page.settings); // after the buttons: it disables Save on a body template the server would refuse
  if (!wired) wire(onSaved);
}

let wired = false;
function wire(onSaved) {
  wired = true;
  for (const name of Object.keys(SECTIONS)) {
    formOf(name).addEventListener('input', () => markDirty(name));
    formOf(name).addEventListener('change', () => markDirty(name));
    onSubmit(formOf(name), () => save(name, onSaved));
  }
  $('email-setup-go').addEventListener('click', () => $('wm-sender').focus());
  $('wm-body').addEventListener('input', bodyProblem);
  $('wm-body-es').addEventListener('input', bodyProblem);
  $('portal-link-copy').addEventListener('click', () => copy($('portal-link').textContent, 'portal-link-status', 'Link copied.'));
  $('staff-link-copy').addEventListener('click', () => copy($('staff-link').textContent, 'staff-link-status', 'Staff address copied.'));
  for (const b of document.querySelectorAll('[data-verify]')) {
    b.addEventListener('click', () => verify(b));
  }
}

async function verify(button) {
  const input = button.dataset.verify;
  const out = input + '-verify';
  const url = $(input).value.trim();
  if (!url) return status(out, 'Enter a URL first.');
  return busy(button, async () => {
    status(out, 'Checking…', true);
    const r = await api('POST', '/v1/admin/settings/urls/verify', { url });
    if (!r.ok) return status(out, (r.data && r.data.detail) || 'Could not check it.');
    return status(out, r.data.detail, r.data.reachable);
  });
}
