// The messages screen: the practice's WebMail inbox (or sent folder) across patients, newest
// first, unread in bold, by provider; a thread with each message's notification state; a reply to
// the patient as the office or as a provider the staff user acts for; a new message to a patient
// found by name, birthdate or phone (or chosen on the patients screen).
// Message text is set as text, always.
import { $, api, el, onSubmit, openLink, status, uploadAttachments } from '/lib.js';

const when = (unix) => new Date(unix * 1000).toLocaleString();
/** A sender or recipient by name; a message a parent wrote for a child says both. */
const who = (party) => (party.by ? `${party.by} (for ${party.name})` : party.name);
const NOTIFICATION = {
  pending: () => 'notification pending',
  sending: () => 'notification being sent',
  sent: () => 'notification sent',
  failed: (n) => `notification failed: ${n.reason} (${n.attempts} tries; it is tried again)`,
  skipped: (n) => `no notification: ${n.reason}`,
  bounced: (n) => `notification came back: ${n.reason}`,
};
let cursor = null;
let openThread = null;
let providersLoaded = false;
/** A patient chosen on the patients screen, to write to once this screen opens. */
let pending = null;

/** The practice's providers: all of them to filter by, those this staff user acts for to write as. */
async function loadProviders() {
  if (providersLoaded) return;
  const r = await api('GET', '/v1/admin/webmail/providers');
  if (!r.ok) return;
  providersLoaded = true;
  $('mail-provider').append(...r.data.items.map((p) => el('option', { value: p.id }, p.name)));
  for (const id of ['mail-as', 'mail-compose-as']) {
    $(id).append(...r.data.items.filter((p) => p.actsForMe).map((p) => el('option', { value: p.id }, p.name)));
  }
}

function notification(n) {
  if (!n) return null;
  return el('span', { className: 'badge' + (n.state === 'failed' ? ' bad' : n.state === 'sent' ? ' off' : '') }, (NOTIFICATION[n.state] || (() => n.state))(n));
}

function view(name) {
  for (const v of ['list', 'thread', 'compose']) $(`mail-${v}-view`).hidden = v !== name;
}

export async function load(reset) {
  await loadProviders();
  if (pending) return compose(pending);
  view('list');
  if (reset) {
    cursor = null;
    $('mail-items').replaceChildren();
  }
  const q = new URLSearchParams({ folder: $('mail-folder').value });
  if ($('mail-unread').checked) q.set('unread', 'true');
  if ($('mail-provider').value) q.set('providerId', $('mail-provider').value);
  if (cursor) q.set('cursor', cursor);
  const r = await api('GET', `/v1/admin/webmail/messages?${q}`);
  if (!r.ok) return status('mail-status', r.status === 403 ? 'Messages are off: turn on Messages under Setup.' : 'The messages could not be loaded.');
  status('mail-status', '');
  const inbox = $('mail-folder').value === 'inbox';
  $('mail-unread-count').textContent = `${r.data.unread} unread in the inbox`;
  $('mail-items').append(...r.data.items.map((m) => {
    const open = el('button', { type: 'button', className: 'link-button subject' + (inbox && !m.read ? ' unread' : '') }, m.subject);
    open.addEventListener('click', () => thread(m.threadId));
    return el('li', {}, open,
      el('span', { className: 'meta' }, inbox ? `From ${who(m.from)} to ${who(m.to)}` : `To ${who(m.to)}, from ${who(m.from)}`, ' · ', when(m.sentAt)),
      el('span', {}, inbox && !m.read ? el('span', { className: 'badge' }, 'Unread') : null, ' ', notification(m.notification)));
  }));
  if (!$('mail-items').children.length) $('mail-items').append(el('li', { className: 'meta' }, 'No messages.'));
  cursor = r.data.nextCursor;
  $('mail-more').hidden = !cursor;
  return undefined;
}

async function thread(id) {
  const r = await api('GET', `/v1/admin/webmail/threads/${encodeURIComponent(id)}`);
  if (!r.ok) return status('mail-status', 'That thread could not be opened.');
  openThread = id;
  view('thread');
  $('mail-thread-subject').textContent = r.data.subject;
  $('mail-thread-patient').textContent = `With ${r.data.patientName}`;
  $('mail-thread').replaceChildren(...r.data.messages.map((m) => el('li', { className: m.from.kind === 'patient' ? 'theirs' : 'mine' },
    el('p', { className: 'meta' }, `${who(m.from)} to ${who(m.to)} · ${when(m.sentAt)} `, notification(m.notification)),
    el('p', { className: 'body' }, m.body),
    files(m))));
  // Opening a thread reads the patient's messages in it.
  for (const m of r.data.messages.filter((x) => x.from.kind === 'patient' && !x.read)) {
    await api('PUT', `/v1/admin/webmail/messages/${encodeURIComponent(m.id)}/read`, { read: true });
  }
  $('mail-back').focus();
  return undefined;
}

/** The files that came with a message, each opened through a short-lived link. */
function files(m) {
  if (!m.attachments || !m.attachments.length) return null;
  return el('ul', { className: 'files' }, m.attachments.map((a) => {
    const b = el('button', { type: 'button', className: 'link-button' }, a.fileName);
    b.addEventListener('click', async () => {
      if (await openLink(`/v1/admin/webmail/attachments/${encodeURIComponent(a.id)}/file`)) status('mail-status', 'That file could not be opened.');
    });
    return el('li', {}, b);
  }));
}

/** The "To" choices: the patient given, or those a search found. */
function recipients(patients) {
  $('mail-to').replaceChildren(...(patients.length
    ? patients.map((p) => el('option', { value: p.patientId }, `${p.name} (born ${p.birthdate})`))
    : [el('option', { value: '' }, 'No patient found')]));
}

/** Opens a new message, to `patient` when one was chosen on the patients screen. */
function compose(patient) {
  pending = null;
  view('compose');
  status('mail-status', '');
  if (patient) recipients([patient]);
  $(patient ? 'mail-subject' : 'mail-find').focus();
}

/** From the patients screen: write to this patient. */
export function composeTo(patient) {
  pending = patient;
  if (location.hash === '#messages') load(true);
  else location.hash = '#messages';
}

const WHY = { count: 'Attach at most 5 files.', type: 'is not a PDF, JPEG or PNG.', size: 'is larger than 10 MB.', upload: 'could not be uploaded.', network: 'could not be uploaded: the portal could not be reached.' };

export function wireWebmail() {
  onSubmit($('mail-form'), () => load(true));
  $('mail-more').addEventListener('click', () => load(false));
  $('mail-back').addEventListener('click', () => load(true));
  $('mail-new').addEventListener('click', () => compose(null));
  $('mail-compose-back').addEventListener('click', () => load(true));
  onSubmit($('mail-find-form'), async () => {
    const r = await api('GET', `/v1/admin/patients?${new URLSearchParams({ q: $('mail-find').value.trim(), limit: '20' })}`);
    if (!r.ok) return status('mail-status', (r.data && r.data.detail) || 'The patients could not be found.');
    recipients(r.data.items);
    status('mail-status', r.data.items.length ? `${r.data.items.length} found: choose one under To.` : 'No patient matches.');
    return undefined;
  });
  onSubmit($('mail-compose-form'), async () => {
    const message = { patientId: $('mail-to').value, subject: $('mail-subject').value.trim(), body: $('mail-body').value };
    if (!message.patientId) return status('mail-status', 'Find and choose the patient first.');
    if (!message.subject || !message.body.trim()) return status('mail-status', 'Write a subject and a message.');
    const up = await uploadAttachments('/v1/admin/webmail/attachments', [...$('mail-compose-files').files]);
    if (up.failed) return status('mail-status', `${up.failed.name} ${WHY[up.failed.reason]}`.trim());
    message.attachmentIds = up.ids;
    if ($('mail-compose-as').value) message.providerId = $('mail-compose-as').value;
    const r = await api('POST', '/v1/admin/webmail/messages', message);
    if (!r.ok) return status('mail-status', (r.data && r.data.detail) || 'The message could not be sent.');
    for (const id of ['mail-subject', 'mail-body', 'mail-compose-files', 'mail-find']) $(id).value = '';
    recipients([]);
    status('mail-status', 'Sent.', true);
    return thread(r.data.threadId);
  });
  onSubmit($('mail-reply-form'), async () => {
    const body = $('mail-reply').value;
    if (!body.trim()) return status('mail-status', 'Write a reply first.');
    const up = await uploadAttachments('/v1/admin/webmail/attachments', [...$('mail-files').files]);
    if (up.failed) return status('mail-status', `${up.failed.name} ${WHY[up.failed.reason]}`.trim());
    const reply = { body, attachmentIds: up.ids };
    if ($('mail-as').value) reply.providerId = $('mail-as').value;
    const r = await api('POST', `/v1/admin/webmail/threads/${encodeURIComponent(openThread)}/reply`, reply);
    if (!r.ok) return status('mail-status', (r.data && r.data.detail) || 'The reply could not be sent.');
    $('mail-reply').value = '';
    $('mail-files').value = '';
    status('mail-status', 'Sent.', true);
    return thread(openThread);
  });
}
