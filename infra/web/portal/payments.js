// What the Payments tab and the payment page share: dollars typed into integer cents, following a
// payment until its processor has decided (the portal asks the processor; the browser is never
// taken at its word), the receipt, the history list and the words for payment problems.
import { api, el } from './lib.js';
import { formatDateTime, formatMoney, t } from './i18n.js';

/** How often, and how long, a page asks where a payment stands. */
const POLL_MS = 1500;
const POLL_TRIES = 60;

/** Dollars as typed ("50", "50.5", "$1,234.56") in integer cents, or null. */
export function centsOf(text) {
  const m = /^\s*\$?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!m) return null;
  return Number(m[1].replace(/,/g, '')) * 100 + Number((m[2] || '0').padEnd(2, '0'));
}

/** The message for a failed payment call, in the page's language. */
export function paymentProblem(r) {
  if (r.status === 0) return t('error.network');
  const code = r.data && r.data.code;
  if (code === 'amount_invalid') return `${t('payments.amountInvalid')} ${r.data.detail || ''}`.trim();
  if (code === 'payments_unavailable') return t('payments.unavailable');
  if (code === 'note_invalid') return t('payments.noteInvalid');
  if (code === 'card_token_invalid') return t('pay.cardUnreadable');
  if (r.status === 429) return t('error.tooMany');
  return t('error.generic');
}

/** Asks where payment `id` stands until the processor has decided: answers { payment } once it
 * is approved, else { payment, message, good } (declined, canceled, or still waiting). `read`
 * asks once (a signed-in patient's GET by default; a guest's page proves its key instead). */
export async function follow(id, read = () => api('GET', `/v1/payments/${encodeURIComponent(id)}`)) {
  for (let i = 0; i < POLL_TRIES; i += 1) {
    const r = await read();
    if (!r.ok) return { message: paymentProblem(r) };
    const p = r.data;
    if (p.status === 'approved') return { payment: p };
    if (p.status === 'declined') return { payment: p, message: t('payments.declined', { reason: p.declineReason || '' }) };
    if (p.status === 'canceled') return { payment: p, message: t('payments.canceled') };
    await new Promise((done) => setTimeout(done, POLL_MS));
  }
  return { message: t('payments.stillWaiting'), good: true };
}

/** The receipt of an approved payment, printable (only it is printed: the `sheet` rule). */
export function receiptOf(p, practiceName) {
  const row = (key, value) => [el('dt', {}, t(key)), el('dd', {}, value)];
  const print = el('button', { type: 'button', className: 'secondary no-print' }, t('payments.print'));
  print.addEventListener('click', () => window.print());
  return el('section', { className: 'part receipt sheet', tabIndex: -1 },
    el('h3', {}, t('payments.receipt')),
    el('p', { className: 'status good' }, t('payments.thanks')),
    el('dl', { className: 'money' },
      row('payments.receipt.practice', practiceName),
      row('payments.receipt.amount', formatMoney(p.amountCents)),
      row('payments.receipt.date', formatDateTime(new Date(p.approvedAt || p.createdAt))),
      row('payments.receipt.reference', p.id),
      p.card ? row('payments.receipt.card', t('payments.card', { brand: p.card.brand, last4: p.card.last4 })) : []),
    el('p', { className: 'hint' }, t('payments.receipt.posting')),
    print);
}

/** Payments, newest first. */
export function historyList(items) {
  if (!items.length) return el('p', { className: 'empty' }, t('payments.history.empty'));
  return el('ul', { className: 'items' }, items.map((p) => el('li', { className: 'line' },
    el('span', { className: 'meta' }, formatDateTime(new Date(p.approvedAt || p.createdAt))),
    el('span', {}, t('payments.reference', { id: p.id }), ' ',
      el('span', { className: 'badge' + (p.status === 'approved' ? '' : ' off') }, t('payments.status.' + p.status))),
    el('span', { className: 'amount' }, formatMoney(p.amountCents)))));
}
