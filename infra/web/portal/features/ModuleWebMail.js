// Messages: secure messages with the dental office. The inbox (unread in bold, counted on the view's link)
// and sent folder, a thread with its replies (opening it marks it read), a reply, and a new message
// to the office or one of the patient's providers, each with files attached (uploaded straight to storage, then
// checked by the portal). Message text is shown as text, always.
import { ATTACHMENT_TYPES, MAX_ATTACHMENTS, api, busy, el, status, uploadAttachments } from '../lib.js';
import { t, formatDateTime, plural } from '../i18n.js';
import { empty, failure, forPatient, load, openFile, opener } from './common.js';

/** A file picker for attachments. */
function filePicker(id) {
  return el('input', { type: 'file', id, accept: ATTACHMENT_TYPES.join(','), multiple: true });
}

/** Uploads the chosen files; answers their ids, or what is wrong in words. */
async function upload(input, patientId) {
  const r = await uploadAttachments(forPatient('/v1/webmail/attachments', patientId), [...input.files]);
  if (r.ids) return r;
  const { reason, name } = r.failed;
  if (reason === 'network') return { error: t('error.network') };
  return { error: t('webmail.files.' + reason, { name, n: MAX_ATTACHMENTS }) };
}

/** The files that came with a message, each a download. */
function attachments(m, patientId) {
  if (!m.attachments || !m.attachments.length) return null;
  return el('ul', { className: 'files' }, m.attachments.map((a) => {
    const said = el('span', { className: 'status', role: 'status' });
    const b = el('button', { type: 'button', className: 'link-button' }, a.fileName);
    b.addEventListener('click', () => busy(b, async () => status(said, await openFile(forPatient(`/v1/webmail/attachments/${encodeURIComponent(a.id)}/file`, patientId)))));
    return el('li', {}, b, said);
  }));
}

const when = (unixSeconds) => formatDateTime(new Date(unixSeconds * 1000));

/** A sender or recipient by name; a message a parent wrote for a child says both. */
const who = (party) => (party.by ? t('webmail.forPatient', { by: party.by, name: party.name }) : party.name);

/** The unread count on the view's links, as the last answer said. */
function countOnTab(unread) {
  for (const link of document.querySelectorAll('nav.views a[data-view="ModuleWebMail"]')) {
    link.textContent = t('feature.ModuleWebMail.label');
    if (unread) link.append(' ', el('span', { className: 'count', 'aria-label': t('webmail.unreadCount', { n: unread }) }, String(unread)));
  }
}

/** The tab's unread count, before the tab is opened. */
export async function badge(ctx) {
  const r = await api('GET', forPatient('/v1/webmail/messages', ctx.patientId, { folder: 'inbox', limit: 1 }));
  if (r.ok) countOnTab(r.data.unread);
}

/** Home's to-do: unread messages, with Read. */
export async function todos({ patientId, open }) {
  const r = await api('GET', forPatient('/v1/webmail/messages', patientId, { folder: 'inbox', limit: 1 }));
  if (!r.ok || !r.data.unread) return [];
  return [{ text: plural('home.unread', r.data.unread), action: opener(t('home.read'), () => open('ModuleWebMail')) }];
}

export async function render(panel, ctx, folder = 'inbox') {
  const data = await load(panel, [forPatient('/v1/webmail/messages', ctx.patientId, { folder }), forPatient('/v1/webmail/messages', ctx.patientId, { folder: 'inbox', limit: 1 })]);
  if (!data) return;
  const [list, inbox] = data;
  countOnTab(inbox.unread);
  const folders = el('div', { className: 'folders', role: 'group', 'aria-label': t('webmail.folders') },
    ['inbox', 'sent'].map((f) => {
      const label = f === 'inbox' && inbox.unread ? `${t('webmail.inbox')} (${inbox.unread})` : t('webmail.' + f);
      const b = el('button', { type: 'button', className: 'secondary', 'aria-pressed': String(f === folder) }, label);
      b.addEventListener('click', () => render(panel, ctx, f));
      return b;
    }));
  const write = el('button', { type: 'button' }, t('webmail.new'));
  write.addEventListener('click', () => compose(panel, ctx));
  const items = el('ul', { className: 'items messages' });
  const more = el('button', { type: 'button', className: 'secondary', hidden: true }, t('common.more'));
  const said = el('p', { className: 'status', role: 'status' });
  const show = (page) => {
    items.append(...page.items.map((m) => row(m, folder, () => thread(panel, ctx, m.threadId))));
    more.hidden = !page.nextCursor;
    more.onclick = () => busy(more, async () => {
      const r = await api('GET', forPatient('/v1/webmail/messages', ctx.patientId, { folder, cursor: page.nextCursor }));
      if (!r.ok) return status(said, failure(r));
      show(r.data);
    });
  };
  show(list);
  panel.replaceChildren(el('h2', {}, t('feature.ModuleWebMail.label')), el('div', { className: 'toolbar' }, folders, write),
    list.items.length ? items : empty(folder === 'inbox' ? 'webmail.inbox.empty' : 'webmail.sent.empty'), more, said);
}

function row(m, folder, open) {
  const other = folder === 'inbox' ? m.from : m.to;
  const unread = folder === 'inbox' && !m.read;
  const link = el('button', { type: 'button', className: 'link-button subject' + (unread ? ' unread' : '') }, m.subject);
  link.addEventListener('click', open);
  return el('li', {}, link,
    el('span', { className: 'meta' }, t(folder === 'inbox' ? 'webmail.from' : 'webmail.to', { name: who(other) }), ' · ', when(m.sentAt)),
    unread ? el('span', { className: 'badge' }, t('webmail.unread')) : null);
}

async function thread(panel, ctx, threadId) {
  const data = await load(panel, [forPatient(`/v1/webmail/threads/${encodeURIComponent(threadId)}`, ctx.patientId)]);
  if (!data) return;
  const [th] = data;
  // Opening a thread reads it: the office's unread messages in it become read.
  for (const m of th.messages.filter((x) => x.from.kind !== 'patient' && !x.read)) {
    await api('PUT', forPatient(`/v1/webmail/messages/${encodeURIComponent(m.id)}/read`, ctx.patientId), { read: true });
  }
  const back = el('button', { type: 'button', className: 'secondary' }, t('webmail.back'));
  back.addEventListener('click', () => render(panel, ctx));
  const text = el('textarea', { id: 'reply-body', maxLength: 10000, required: true });
  const files = filePicker('reply-files');
  const send = el('button', { type: 'submit' }, t('webmail.send'));
  const said = el('p', { className: 'status', role: 'status' });
  const form = el('form', { className: 'reply', novalidate: true },
    el('label', { htmlFor: 'reply-body' }, t('webmail.reply')), text,
    el('label', { htmlFor: 'reply-files' }, t('webmail.files')), files, el('p', { className: 'hint' }, t('webmail.files.hint')), send, said);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(send, async () => {
      if (!text.value.trim()) return status(said, t('webmail.writeSomething'));
      const up = await upload(files, ctx.patientId);
      if (up.error) return status(said, up.error);
      const r = await api('POST', forPatient(`/v1/webmail/threads/${encodeURIComponent(threadId)}/reply`, ctx.patientId), { body: text.value, attachmentIds: up.ids });
      if (!r.ok) return status(said, problem(r));
      return thread(panel, ctx, threadId);
    });
  });
  panel.replaceChildren(
    el('h2', {}, t('feature.ModuleWebMail.label')), back,
    el('h3', {}, th.subject),
    el('ol', { className: 'thread' }, th.messages.map((m) => el('li', { className: m.from.kind === 'patient' ? 'mine' : 'theirs' },
      el('p', { className: 'meta' }, t('webmail.fromTo', { from: who(m.from), to: who(m.to) }), ' · ', when(m.sentAt)),
      el('p', { className: 'body' }, m.body),
      attachments(m, ctx.patientId)))),
    form);
  const r = await api('GET', forPatient('/v1/webmail/messages', ctx.patientId, { folder: 'inbox', limit: 1 }));
  if (r.ok) countOnTab(r.data.unread);
}

async function compose(panel, ctx) {
  const data = await load(panel, [forPatient('/v1/webmail/providers', ctx.patientId)]);
  if (!data) return;
  const providers = data[0].items;
  const back = el('button', { type: 'button', className: 'secondary' }, t('webmail.back'));
  back.addEventListener('click', () => render(panel, ctx));
  if (!providers.length) return panel.replaceChildren(el('h2', {}, t('webmail.new')), back, empty('webmail.noProviders'));
  const to = el('select', { id: 'compose-to' }, providers.map((p) => el('option', { value: p.id }, p.kind === 'office' ? t('webmail.office', { name: p.name }) : p.name)));
  const subject = el('input', { type: 'text', id: 'compose-subject', maxLength: 150, required: true });
  const text = el('textarea', { id: 'compose-body', maxLength: 10000, required: true });
  const files = filePicker('compose-files');
  const send = el('button', { type: 'submit' }, t('webmail.send'));
  const said = el('p', { className: 'status', role: 'status' });
  const form = el('form', { novalidate: true },
    el('label', { htmlFor: 'compose-to' }, t('webmail.toLabel')), to,
    el('label', { htmlFor: 'compose-subject' }, t('webmail.subject')), subject,
    el('label', { htmlFor: 'compose-body' }, t('webmail.message')), text,
    el('label', { htmlFor: 'compose-files' }, t('webmail.files')), files, el('p', { className: 'hint' }, t('webmail.files.hint')),
    el('p', { className: 'hint' }, t('webmail.hint')), send, said);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(send, async () => {
      if (!subject.value.trim() || !text.value.trim()) return status(said, t('webmail.writeSomething'));
      const up = await upload(files, ctx.patientId);
      if (up.error) return status(said, up.error);
      const r = await api('POST', forPatient('/v1/webmail/messages', ctx.patientId), { providerId: to.value, subject: subject.value, body: text.value, attachmentIds: up.ids });
      if (!r.ok) return status(said, problem(r));
      return thread(panel, ctx, r.data.threadId);
    });
  });
  panel.replaceChildren(el('h2', {}, t('webmail.new')), back, form);
  subject.focus();
}

/** What a refused message says, in the page's language. */
function problem(r) {
  const code = r.data && r.data.code;
  if (['message_empty', 'message_too_long', 'subject_invalid', 'provider_unknown', 'attachment_rejected'].includes(code)) return t('webmail.problem.' + code);
  return failure(r);
}
