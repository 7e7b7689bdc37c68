// The invites screen: the automated portal invite rules (before an appointment or after a
// completed one, how often to resend, the email's subject and text with tags), saved together
// with their version; and the log of what the schedule did, newest first, with the reason for
// each patient it skipped. Each rule's email can be previewed as a sample patient would get it,
// in either language, and (admins) sent to oneself. Front-desk staff see the rules; admins change
// them.
import { $, api, busy, el, onSubmit, status } from '/lib.js';

const UNITS = [['minutes', 1], ['hours', 60], ['days', 1440]];
const RESEND = { untilVisited: 'Until the patient visits the portal', everyAppointment: 'For every appointment', noVisitWithin: 'When no visit within some days' };
const STATE = { claimed: 'being sent', sent: 'sent', skipped: 'skipped', failed: 'failed' };
let version = 0;
let canEdit = false;
let logCursor = null;
let counter = 0;
// The address a test went to last, offered again (kept for this page only).
let testAddress = '';

const when = (unix) => new Date(unix * 1000).toLocaleString();

/** The largest unit that divides the minutes evenly, for display. */
function split(minutes) {
  const [unit, size] = [...UNITS].reverse().find(([, s]) => minutes % s === 0);
  return { amount: minutes / size, unit };
}

function field(label, control) {
  control.id = control.id || `invite-f${counter += 1}`;
  return el('div', {}, el('label', { htmlFor: control.id }, label), control);
}

function select(options, value) {
  const s = el('select', {}, ...options.map(([v, label]) => el('option', { value: v }, label)));
  s.value = value;
  return s;
}

/** One rule as a fieldset of plain controls (read back by `read`). */
function ruleEditor(r, n) {
  const { amount, unit } = split(r.offsetMinutes);
  const box = el('fieldset', { className: 'rule', 'data-id': r.id },
    el('legend', {}, `Rule ${n}`),
    el('label', { className: 'inline' }, el('input', { type: 'checkbox', className: 'enabled', checked: r.enabled }), ' On'),
    el('div', { className: 'row' },
      field('Send', el('input', { type: 'number', className: 'amount', min: '1', max: '129600', value: String(amount) })),
      field('Unit', select(UNITS.map(([u]) => [u, u]), unit)),
      field('When', select([['before', 'before the appointment'], ['after', 'after it is completed']], r.kind))),
    el('div', { className: 'row' },
      field('Resend', select(Object.entries(RESEND), r.resend)),
      field('Days without a visit', el('input', { type: 'number', className: 'days', min: '1', max: '3650', value: r.resendDays ? String(r.resendDays) : '' }))),
    field('Email subject', el('input', { type: 'text', className: 'subject', maxLength: 150, value: r.subject })),
    field('Email text', el('textarea', { className: 'body', maxLength: 2000 }, r.body)),
    field('Email subject in Spanish', el('input', { type: 'text', className: 'subject-es', lang: 'es', maxLength: 150, value: r.subjectEs || '' })),
    field('Email text in Spanish (for patients whose preferred language is Spanish)', el('textarea', { className: 'body-es', lang: 'es', maxLength: 2000 }, r.bodyEs || '')));
  const remove = el('button', { type: 'button', className: 'secondary remove', 'aria-label': `Remove rule ${n}` }, 'Remove');
  remove.addEventListener('click', () => { box.remove(); renumber(); });
  box.append(remove);
  for (const c of box.querySelectorAll('input, select, textarea, button')) c.disabled = !canEdit;
  box.append(previewer(box));
  return box;
}

/** "Preview" and "Preview in Spanish": the rule's email as typed, for a sample patient; then
 * "Send a test to me" (admins). */
function previewer(box) {
  const shown = el('div', { className: 'mail-preview', hidden: true, 'aria-live': 'polite' });
  const outcome = el('p', { className: 'status', role: 'status' });
  const draft = (language) => {
    const [subject, body] = language === 'es' ? ['.subject-es', '.body-es'] : ['.subject', '.body'];
    return { subject: box.querySelector(subject).value, body: box.querySelector(body).value, language, officePhone: $('invite-phone').value.trim() };
  };
  let language = 'en';
  const to = el('input', { type: 'email', className: 'test-to', maxLength: 254, autocomplete: 'email', value: testAddress });
  const send = el('button', { type: 'button', className: 'secondary', disabled: !canEdit }, 'Send a test to me');
  const show = async (lang) => {
    language = lang;
    const r = await api('POST', '/v1/admin/invites/preview', draft(lang));
    if (!r.ok) {
      shown.hidden = true;
      return status(outcome, (r.data && r.data.detail) || 'The preview could not be made.');
    }
    status(outcome, '');
    shown.replaceChildren(
      el('p', { className: 'hint' }, lang === 'es' ? 'In Spanish, as Alex (a sample patient) would get it:' : 'As Alex (a sample patient) would get it:'),
      el('p', { lang }, el('strong', {}, 'Subject: '), r.data.subject),
      el('pre', { className: 'mail', lang }, r.data.body),
      canEdit ? field('Your email address', to) : null,
      canEdit ? send : null);
    shown.hidden = false;
    return undefined;
  };
  send.addEventListener('click', () => busy(send, async () => {
    const address = to.value.trim();
    if (!address) return status(outcome, 'Type your own email address to send the test to.');
    const r = await api('POST', '/v1/admin/invites/test', { ...draft(language), to: address });
    if (!r.ok) return status(outcome, (r.data && r.data.detail) || 'The test was not sent.');
    testAddress = address;
    return status(outcome, `Sent to ${address}. It may take a minute to arrive.`, true);
  }));
  const buttons = el('div', { className: 'row actions' },
    el('button', { type: 'button', className: 'secondary' }, 'Preview'),
    el('button', { type: 'button', className: 'secondary' }, 'Preview in Spanish'));
  const [en, es] = buttons.querySelectorAll('button');
  en.addEventListener('click', () => busy(en, () => show('en')));
  es.addEventListener('click', () => busy(es, () => show('es')));
  return el('div', { className: 'preview' }, buttons, shown, outcome);
}

function renumber() {
  [...$('invite-rules').querySelectorAll('fieldset.rule')].forEach((f, i) => {
    f.querySelector('legend').textContent = `Rule ${i + 1}`;
    f.querySelector('button.remove').setAttribute('aria-label', `Remove rule ${i + 1}`);
  });
}

/** The rules as typed. */
function read() {
  return [...$('invite-rules').querySelectorAll('fieldset.rule')].map((f) => {
    const selects = f.querySelectorAll('select');
    const size = UNITS.find(([u]) => u === selects[0].value)[1];
    const rule = {
      id: f.dataset.id,
      kind: selects[1].value,
      offsetMinutes: Math.round(Number(f.querySelector('.amount').value) * size),
      resend: selects[2].value,
      subject: f.querySelector('.subject').value,
      body: f.querySelector('.body').value,
      subjectEs: f.querySelector('.subject-es').value,
      bodyEs: f.querySelector('.body-es').value,
      enabled: f.querySelector('.enabled').checked,
    };
    if (rule.resend === 'noVisitWithin') rule.resendDays = Number(f.querySelector('.days').value);
    return rule;
  });
}

function show(data) {
  version = data.version;
  $('invite-phone').value = data.officePhone || '';
  $('invite-rules').replaceChildren(...data.rules.map((r, i) => ruleEditor(r, i + 1)));
  for (const id of ['invite-phone', 'invite-add', 'invite-save']) $(id).disabled = !canEdit;
}

export async function load() {
  const r = await api('GET', '/v1/admin/invites/rules');
  if (!r.ok) return status('invite-status', 'The invite rules could not be loaded.');
  canEdit = r.data.canEdit;
  $('invite-tags').textContent = r.data.tags.join(' ');
  show(r.data);
  $('invite-readonly').hidden = canEdit;
  return loadLog(true);
}

async function loadLog(reset) {
  if (reset) {
    logCursor = null;
    $('invite-log').replaceChildren();
  }
  const q = new URLSearchParams(logCursor ? { cursor: logCursor } : {});
  const r = await api('GET', `/v1/admin/invites/log?${q}`);
  if (!r.ok) return status('invite-log-status', 'The log could not be loaded.');
  $('invite-log').append(...r.data.items.map((i) => el('li', {},
    el('strong', {}, i.patientName || i.patientId),
    el('span', { className: 'meta' }, `Appointment ${i.appointmentId} · rule ${i.ruleId} · ${when(i.sentAt || i.createdAt)}`),
    el('span', {}, el('span', { className: 'badge' + (i.status === 'failed' ? ' bad' : i.status === 'skipped' ? ' off' : '') }, STATE[i.status] || i.status),
      i.reason ? ` ${i.reason}` : ''))));
  if (!$('invite-log').children.length) $('invite-log').append(el('li', { className: 'meta' }, 'No invites yet.'));
  logCursor = r.data.nextCursor;
  $('invite-log-more').hidden = !logCursor;
  return undefined;
}

export function wireInvites() {
  $('invite-add').addEventListener('click', () => {
    const n = $('invite-rules').querySelectorAll('fieldset.rule').length + 1;
    const rule = { id: `rule-${Date.now().toString(36)}`, kind: 'before', offsetMinutes: 1440, resend: 'untilVisited', subject: 'Your patient portal at [PracticeName]', body: 'Dear [NameF], log in at [URL] with username [UserName] and temporary password [Password].',
      subjectEs: 'Su portal del paciente en [PracticeName]', bodyEs: 'Estimado/a [NameF]: inicie sesión en [URL] con el usuario [UserName] y la contraseña temporal [Password].', enabled: false };
    const editor = ruleEditor(rule, n);
    $('invite-rules').append(editor);
    editor.querySelector('input').focus();
  });
  $('invite-log-more').addEventListener('click', () => loadLog(false));
  onSubmit($('invite-form'), async () => {
    const rules = read();
    if (rules.some((r) => !(r.offsetMinutes > 0))) return status('invite-status', 'Each rule needs a time of at least 1 minute.');
    const r = await api('PUT', '/v1/admin/invites/rules', { rules, officePhone: $('invite-phone').value.trim(), version });
    if (r.status === 409 && r.data.current) {
      version = r.data.current.version;
      return status('invite-status', 'Someone saved these rules meanwhile. Your changes are still here: save again to replace theirs.');
    }
    if (!r.ok) return status('invite-status', (r.data && r.data.detail) || 'The rules were not saved.');
    show(r.data);
    return status('invite-status', 'Saved.', true);
  });
}
