// The activity screen: the practice's audit log in words. People and keys by name where the
// practice knows them, settings changes as before → after, filters (what, who, one person, dates)
// and "Show older" paging with the log's cursor; "Verify log" checks the log against its daily
// seals and names the first entry changed since.
import { $, api, busy, el, onSubmit, status } from '/lib.js';

const FEATURE_LABELS = {};
const FAMILY = { guarantor: 'the guarantor sees the whole family', self: 'everyone sees only their own records' };
const KIND = { patient: 'patient', staff: 'staff', sync: 'practice system', anonymous: 'unknown', system: 'the portal' };
const FIELDS = {
  patientFacingUrl: 'Patient-facing URL', practiceWebsiteUrl: 'Practice website URL', notificationSender: 'Send notifications from',
  defaultNotifyAddress: 'Tell the office at', subject: 'Email subject', bodyTemplate: 'Email text',
  subjectEs: 'Email subject (Spanish)', bodyTemplateEs: 'Email text (Spanish)', role: 'Role', disabled: 'Blocked',
  phone: 'Phone', address: 'Address', hours: 'Hours', appointmentRequests: 'Appointment change requests',
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
  if (e.action === 'settings.invites') {
    // Each rule as [id, enabled]; rules are told apart by their place in the list.
    const was = new Map(d.before), now = new Map(d.after);
    const words = [];
    d.after.forEach(([id, on], i) => { if (!was.has(id)) words.push(`rule ${i + 1} added (${on ? 'on' : 'off'})`); else if (was.get(id) !== on) words.push(`rule ${i + 1} turned ${on ? 'on' : 'off'}`); });
    const removed = d.before.filter(([id]) => !now.has(id)).length;
    if (removed) words.push(`${plural(removed, 'rule')} removed`);
    return words.length ? words.join('; ') + '.' : 'Texts or timing changed.';
  }
  if (e.action === 'settings.family-access.update') return `${FAMILY[d.before] || d.before} → ${FAMILY[d.after] || d.after}`;
  const changed = Object.keys(d.after || {}).filter((k) => d.before[k] !== d.after[k]);
  return changed.map((k) => `${FIELDS[k] || k}: ${shown(d.before[k])} → ${shown(d.after[k])}`).join('; ') || 'No change.';
}

// The kinds of mail a bounce or complaint is about (portal-core ports::MailKind).
const MAIL_KINDS = {
  'webmail-notification': 'a new-message notification', invite: 'a portal invite', receipt: 'a payment receipt',
  'password-reset': 'a password reset link', login: 'a portal login', 'care-summary': 'a care summary',
  'security-notice': 'a notice of a sign-in change',
};
const NOTICES = { 'password-changed': 'their password changed', 'two-step-on': 'two-step sign-in was turned on', 'two-step-off': 'two-step sign-in was turned off' };

const listed = (e) => ((e.detail && e.detail.patientIds) || []).length;
const plural = (n, one) => `${n} ${one}${n === 1 ? '' : 's'}`;

/**
 * Every audited action in words (portal-core `AuditAction`; a browser test checks each one
 * listed by `portal-local --print-audit-actions` is here). `s` is the subject by name.
 */
const WORDS = {
  'auth.patient.login': (e) => (e.outcome === 'success' ? 'Logged in to the patient portal' : 'Failed patient login'),
  'auth.staff.login': (e) => (e.outcome === 'success' ? 'Logged in to portal setup' : 'Failed staff login'),
  'auth.logout': () => 'Logged out',
  'auth.password.change': (e) => (e.outcome === 'success' ? 'Changed a password' : 'Could not change a password'),
  'auth.password.reset_requested': (e, s) => (e.subject === 'unknown-account' ? 'Asked for a password reset for an account the portal does not know' : `Asked for a password reset link for ${s}`),
  'auth.password.reset': (e, s) => `Set a new password for ${s} with a reset link`,
  'auth.mfa.enrol': () => 'Turned on two-step sign-in',
  'auth.mfa.remove': (e) => (e.outcome === 'success' ? 'Turned off two-step sign-in' : 'Could not turn off two-step sign-in'),

  'settings.features.update': () => 'Changed portal features',
  'settings.urls.update': () => 'Changed portal URLs',
  'settings.webmail.update': () => 'Changed message notifications',
  'settings.family-access.update': () => 'Changed family access',
  'settings.contact.update': () => 'Changed how patients reach the office',
  'settings.invites': () => 'Changed the automatic invites',
  'settings.payments': (e) => `Changed payment setup (${(e.detail && e.detail.processor) || 'no processor'})`,
  'settings.payments.test': (e) => (e.outcome === 'success' ? 'Checked the payment keys: they work' : 'Checked the payment keys: they did not work'),
  'settings.direct-recipient.add': (e) => `Added a Direct address for care summaries (${((e.detail && e.detail.addresses) || []).join(', ')})`,
  'settings.direct-recipient.remove': (e) => `Removed the Direct address ${(e.detail && e.detail.address) || ''}`,
  'settings.code-systems.import': (e) => `Started importing a code list (${e.subject.replace('code-systems/', '')})`,

  'me.family.read': (e, s) => `Opened the portal's family list of ${s}`,
  'profile.read': (e, s) => `Viewed ${s}'s contact details`,
  'account.summary.read': (e, s) => `Viewed ${s}'s balance`,
  'account.ledger.read': (e, s) => `Viewed ${s}'s charges and payments`,
  'account.statements.read': (e, s) => `Viewed ${s}'s statements`,
  'account.statement-file.read': (e, s) => `Downloaded a statement of ${s}`,
  'images.read': (e, s) => `Viewed ${s}'s images and documents`,
  'images.file.read': (e, s) => `Opened an image or document of ${s}`,
  'treatment-plans.read': (e, s) => `Viewed ${s}'s treatment plans`,
  'appointments.read': (e, s) => `Viewed ${s}'s appointments`,
  'appointments.recalls.read': (e, s) => `Viewed ${s}'s recalls and open times`,
  'webmail.messages.read': (e, s) => `Viewed ${s}'s messages`,
  'webmail.thread.read': (e, s) => `Opened a message thread of ${s}`,
  'webmail.attachment.read': (e, s) => `Opened a message attachment of ${s}`,
  'webmail.office.messages.read': () => "Viewed the practice's messages",
  'payments.payment.read': (e, s) => (e.subject === 'unmatched' ? 'Viewed a payment not yet matched to a patient' : `Viewed a payment of ${s}`),
  'payments.history.read': (e, s) => `Viewed ${s}'s payment history`,
  'care-summary-activity.read': (e, s) => `Viewed the care summary activity of ${s}`,
  'care-summary.view': (e, s) => `Viewed the care summary of ${s}`,
  'care-summary.download': (e, s) => `Downloaded the care summary of ${s}`,
  'care-summary.transmit': (e, s) => (e.outcome === 'success' ? `Sent the care summary of ${s} to ${(e.detail && e.detail.to) || 'another address'}` : `Could not send the care summary of ${s}`),
  'roster.read': (e) => `Searched patients (${plural(listed(e), 'patient')} listed)`,
  'invites.log.read': (e) => `Viewed the automatic invites log (${plural(listed(e), 'patient')} listed)`,
  'payments.read': (e) => `Viewed the payments list (${plural(listed(e), 'patient')} listed)`,

  // A patient writing for someone in their family (a parent for a child) is named as the actor.
  'webmail.send': (e, s) => (e.actorKind === 'patient' && e.actor !== e.subject ? `Sent a secure message for ${s}` : `Sent a secure message (${s})`),
  'webmail.read': (e, s) => `Read a message (${s})`,
  'webmail.unread': (e, s) => `Marked a message unread (${s})`,
  'appointments.confirm': (e, s) => `Confirmed an appointment of ${s}`,
  'appointments.book': (e, s) => `Booked a recall visit for ${s}`,
  'appointments.request_change': (e, s) => `Asked the office to ${(e.detail && e.detail.kind) === 'cancel' ? 'cancel' : 'reschedule'} an appointment of ${s}`,
  'profile.change': (e, s) => `Asked the office to change the contact details of ${s}`,

  'payments.start': (e, s) => `Started a card payment for ${s}`,
  'payments.guest.start': () => 'Started a payment without logging in',
  'payments.approve': (e, s) => `A card payment was approved (${s})`,
  'payments.decline': (e, s) => `A card payment was declined (${s})`,
  'payments.cancel': (e, s) => `A card payment was canceled (${s})`,
  'payments.update': (e, s) => `A card payment changed (${s})`,
  'payments.refund': (e, s) => `Refunded a payment of ${s}`,
  'payments.assign': (e, s) => `Matched a payment to ${s}`,

  'invites.send': (e, s) => (e.outcome === 'success' ? `Emailed ${s} a portal invite` : `Could not email ${s} a portal invite`),
  'invites.test': (e) => `Sent a test invite to themselves${(e.detail && e.detail.language) === 'es' ? ' (in Spanish)' : ''}`,
  'security.notice': (e, s) => {
    const what = NOTICES[e.detail && e.detail.notice];
    return `${e.outcome === 'success' ? 'Emailed' : 'Could not email'} ${s} a notice${what ? ` that ${what}` : ' of a sign-in change'}`;
  },
  'mail.bounced': (e, s) => `An email to ${s} came back undelivered (${MAIL_KINDS[e.detail && e.detail.mail] || 'an email'}): check their email address`,
  'mail.complained': (e, s) => `${s} marked an email from the practice as spam (${MAIL_KINDS[e.detail && e.detail.mail] || 'an email'})`,

  'access.grant': (e, s) => `Gave ${s} portal access`,
  'access.reset': (e, s) => `Made a new temporary password for ${s}`,
  'access.remove': (e, s) => `Removed the portal access of ${s}`,
  'access.email': (e, s) => `Emailed ${s} their portal login`,
  'access.print': (e, s) => `Printed the portal login sheet of ${s}`,
  'staff.create': (e, s) => `Made the staff user ${s} (${(e.detail && e.detail.role) === 'admin' ? 'administrator' : 'front desk'})`,
  'staff.update': (e, s) => `Changed the staff user ${s}`,
  'staff.totp.start': (e, s) => `Started setting up the authenticator app of ${s}`,
  'staff.totp.confirm': (e, s) => (e.outcome === 'success' ? `Set up the authenticator app of ${s}` : `A wrong authenticator code was typed setting up ${s}`),

  'sync.key.create': (e) => `Made sync key "${(e.detail && e.detail.label) || ''}"`,
  'sync.key.revoke': (e, s) => `Revoked sync key "${s}"`,
  'sync.request': () => 'Refused a practice system request',
  'sync.batch': () => 'Sent a batch of records',
  'sync.upsert': (e) => `Sent ${e.subject}`,
  'sync.delete': (e) => `Deleted ${e.subject}`,
  'sync.read': (e) => `Read ${e.subject}`,
  'sync.file': (e) => `Uploaded the file of ${e.subject}`,
};

/** Whether the page has words for an action the log may hold. */
export const hasWords = (action) => Object.hasOwn(WORDS, action);

function actionWords(e, names) {
  const words = WORDS[e.action];
  if (!words) return e.action;
  const reason = e.outcome !== 'success' && e.detail && (e.detail.reason || e.detail.code);
  const why = reason ? ` (${String(reason).replace(/_/g, ' ')})` : '';
  return words(e, names[e.subject] || e.subject) + why;
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

const TAMPERED = {
  altered: 'was changed after its day was sealed',
  inserted: 'was added to a day that was already sealed',
  missing: 'was deleted after its day was sealed',
};
const day = (d) => new Date(d + 'T00:00:00Z').toLocaleDateString(undefined, { timeZone: 'UTC', dateStyle: 'long' });
const entries = (n) => `${n} ${n === 1 ? 'entry' : 'entries'}`;

/** The first thing the check found, in words (`problem` of `GET /v1/admin/audit/verify`). */
function tamperWords(p) {
  if (p.kind === 'seal-missing') return `The seal of ${day(p.day)} is gone or does not follow the day before: the log from that day on cannot be trusted.`;
  if (p.kind === 'seal-altered') return `The seal of ${day(p.day)} was changed: the log of that day cannot be trusted.`;
  const when = p.at ? new Date(p.at * 1000).toLocaleString() : day(p.day);
  const what = p.action ? ` (${p.action})` : '';
  return `The entry of ${when}${what} ${TAMPERED[p.kind]}. Entry id: ${p.entry}.`;
}

/** Checks the whole sealed log, one part per request, and says what it found. */
async function verify() {
  let cursor = null;
  let checked = 0;
  let through = null;
  status('audit-verify-status', 'Checking the log…', true);
  do {
    const r = await api('GET', '/v1/admin/audit/verify' + (cursor ? '?cursor=' + encodeURIComponent(cursor) : ''));
    if (!r.ok) return status('audit-verify-status', (r.data && r.data.detail) || 'The log could not be checked.');
    checked += r.data.entries;
    through = r.data.intactThrough || through;
    if (r.data.problem) return status('audit-verify-status', tamperWords(r.data.problem));
    cursor = r.data.cursor;
    if (cursor) status('audit-verify-status', `Checking the log… ${entries(checked)} so far.`, true);
  } while (cursor);
  return status('audit-verify-status', through
    ? `The log is as it was sealed: ${entries(checked)} through ${day(through)}. Today's entries are sealed after the day ends.`
    : 'No day of the log has been sealed yet: each day is sealed after it ends.', true);
}

export function wireAudit() {
  $('audit-verify').addEventListener('click', (ev) => busy(ev.currentTarget, verify));
  onSubmit($('audit-form'), () => load(true));
  $('audit-more').addEventListener('click', () => load(false));
  $('audit-person-clear').addEventListener('click', () => {
    filter = { person: null, personName: '' };
    load(true);
  });
}
