// The activity screen: the practice's audit log in words. People and keys by name where the
// practice knows them, settings changes as before → after, filters (what, who, one person, dates)
// and "Show older" paging with the log's cursor.
import { $, api, el, onSubmit, status } from '/lib.js';

const FEATURE_LABELS = {};
const FAMILY = { guarantor: 'the guarantor sees the whole family', self: 'everyone sees only their own records' };
const KIND = { patient: 'patient', staff: 'staff', sync: 'practice system', anonymous: 'unknown', system: 'the portal' };
const FIELDS = {
  patientFacingUrl: 'Patient-facing URL', practiceWebsiteUrl: 'Practice website URL', notificationSender: 'Send notifications from',
  defaultNotifyAddress: 'Tell the office at', subject: 'Email subject', bodyTemplate: 'Email text',
};
const READS = {
  'me.family': 'family list', 'account.summary': 'balance', 'account.ledger': 'charges and payments', 'account.statements': 'statements',
  'account.statement-file': 'statement (downloaded)', 'treatment-plans': 'treatment plans', images: 'images and documents',
  'images.file': 'image or document (opened)', appointments: 'appointments', 'appointments.recalls': 'recalls and open times',
  'webmail.messages': 'messages', 'webmail.thread': 'message thread', 'webmail.attachment': 'message attachment (opened)',
};

let filter = { person: null, personName: '' };
let cursor = null;

export function setFeatureLabels(catalog) {
  for (const f of catalog) FEATURE_LABELS[f.key] = f.label;
}

const shown = (v) => (v === null || v === undefined || v === '' ? '(empty)' : `"${v}"`);

/** What changed, in words (settings entries carry before and after). */
function changeWords(e) {
  const d = e.detail || {};
  if (!('before' in d)) return '';
  if (e.action === 'settings.features.update') {
    const on = d.after.filter((f) => !d.before.includes(f)).map((f) => FEATURE_LABELS[f] || f);
    const off = d.before.filter((f) => !d.after.includes(f)).map((f) => FEATURE_LABELS[f] || f);
    return [on.length ? 'Turned on: ' + on.join(', ') + '.' : '', off.length ? 'Turned off: ' + off.join(', ') + '.' : ''].filter(Boolean).join(' ') || 'No change.';
  }
  if (e.action === 'settings.family-access.update') return `${FAMILY[d.before] || d.before} → ${FAMILY[d.after] || d.after}`;
  const changed = Object.keys(d.after || {}).filter((k) => d.before[k] !== d.after[k]);
  return changed.map((k) => `${FIELDS[k] || k}: ${shown(d.before[k])} → ${shown(d.after[k])}`).join('; ') || 'No change.';
}

/** The action in words. */
// The kinds of mail a bounce or complaint is about (portal-core ports::MailKind).
const MAIL_KINDS = {
  'webmail-notification': 'a new-message notification', invite: 'a portal invite', receipt: 'a payment receipt',
  'password-reset': 'a password reset link', login: 'a portal login', 'care-summary': 'a care summary',
  'security-notice': 'a notice of a sign-in change',
};

function actionWords(e, names) {
  const failed = e.outcome !== 'success';
  const subject = names[e.subject] || e.subject;
  const reason = e.detail && (e.detail.reason || e.detail.code);
  const why = failed && reason ? ` (${String(reason).replace(/_/g, ' ')})` : '';
  const mailKind = (e.detail && e.detail.mail) || '';
  const words = {
    'auth.patient.login': failed ? 'Failed patient login' : 'Logged in to the patient portal',
    'auth.staff.login': failed ? 'Failed staff login' : 'Logged in to portal setup',
    'auth.logout': 'Logged out',
    'auth.password.change': failed ? 'Could not change a password' : 'Changed a password',
    'security.notice': failed ? `Could not email ${subject} a notice of a sign-in change` : `Emailed ${subject} a notice of a sign-in change`,
    'settings.features.update': 'Changed portal features',
    'settings.urls.update': 'Changed portal URLs',
    'settings.webmail.update': 'Changed message notifications',
    'settings.family-access.update': 'Changed family access',
    'settings.contact.update': 'Changed how patients reach the office',
    'sync.key.create': `Made sync key "${(e.detail && e.detail.label) || ''}"`,
    'sync.key.revoke': `Revoked sync key "${subject}"`,
    'sync.request': 'Refused a practice system request',
    'sync.batch': 'Sent a batch of records',
    'sync.upsert': `Sent ${e.subject}`,
    'sync.delete': `Deleted ${e.subject}`,
    'sync.read': `Read ${e.subject}`,
    'sync.file': `Uploaded the file of ${e.subject}`,
    'appointments.confirm': `Confirmed an appointment of ${subject}`,
    'appointments.book': `Booked a recall visit for ${subject}`,
    'appointments.request_change': `Asked the office to ${(e.detail && e.detail.kind) === 'cancel' ? 'cancel' : 'reschedule'} an appointment of ${subject}`,
    'webmail.office.messages.read': "Viewed the practice's messages",
    // A patient writing for someone in their family (a parent for a child) is named as the actor.
    'webmail.send': e.actorKind === 'patient' && e.actor !== e.subject ? `Sent a secure message for ${subject}` : `Sent a secure message (${subject})`,
    'webmail.read': `Read a message (${subject})`,
    'webmail.unread': `Marked a message unread (${subject})`,
    'mail.bounced': `An email to ${subject} came back undelivered (${MAIL_KINDS[mailKind] || mailKind}): check their email address`,
    'mail.complained': `${subject} marked an email from the practice as spam (${MAIL_KINDS[mailKind] || mailKind})`,
  }[e.action];
  if (words) return words + why;
  if (e.action.endsWith('.read')) {
    const what = e.action.slice(0, -'.read'.length);
    return `Viewed ${subject}'s ${READS[what] || what.replace(/[.-]/g, ' ')}`;
  }
  return e.action + why;
}

function who(e, names) {
  if (e.actorKind === 'anonymous') return el('span', {}, 'Someone not logged in');
  if (e.actorKind === 'system') return el('span', {}, e.actor === 'mail' ? 'The mail service' : 'The portal (automatic invites)');
  const name = names[e.actor] || e.actor;
  const b = el('button', { type: 'button', className: 'link-button', title: 'Show only what they did' }, name);
  b.addEventListener('click', () => {
    filter = { person: e.actor, personName: name };
    load(true);
  });
  return el('span', {}, b, ` (${KIND[e.actorKind] || e.actorKind})`);
}

function entry(e, names) {
  const change = changeWords(e);
  return el('li', {},
    el('span', {}, who(e, names), ': ', actionWords(e, names)),
    change ? el('span', {}, change) : null,
    el('span', { className: 'meta' }, new Date(e.at * 1000).toLocaleString(), e.outcome === 'success' ? '' : ` · ${e.outcome}`,
      e.sourceIp ? ` · from ${e.sourceIp}` : ''));
}

function query() {
  const q = new URLSearchParams({ limit: '25' });
  if ($('audit-what').value) q.set('what', $('audit-what').value);
  if ($('audit-who').value) q.set('actorKind', $('audit-who').value);
  if (filter.person) q.set('actor', filter.person);
  if ($('audit-from').value) q.set('from', String(Math.floor(new Date($('audit-from').value + 'T00:00:00').getTime() / 1000)));
  if ($('audit-to').value) q.set('to', String(Math.floor(new Date($('audit-to').value + 'T23:59:59').getTime() / 1000)));
  if (cursor) q.set('cursor', cursor);
  return q;
}

/** Loads the first page (`fresh`) or the next one. */
export async function load(fresh) {
  if (fresh) cursor = null;
  $('audit-person').hidden = !filter.person;
  $('audit-person-name').textContent = filter.person ? `Only ${filter.personName}.` : '';
  const r = await api('GET', '/v1/admin/audit?' + query());
  if (!r.ok) return status('audit-status', (r.data && r.data.detail) || 'The activity could not be loaded.');
  const items = r.data.entries.map((e) => entry(e, r.data.names || {}));
  if (fresh) $('audit-entries').replaceChildren(...items);
  else $('audit-entries').append(...items);
  cursor = r.data.cursor;
  $('audit-more').hidden = !cursor;
  const none = fresh && !items.length;
  return status('audit-status', none ? 'Nothing matches these filters.' : '', true);
}

export function wireAudit() {
  onSubmit($('audit-form'), () => load(true));
  $('audit-more').addEventListener('click', () => load(false));
  $('audit-person-clear').addEventListener('click', () => {
    filter = { person: null, personName: '' };
    load(true);
  });
}
