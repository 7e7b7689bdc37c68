// Payments: paying the balance online. The amount defaults to the patient's estimated portion
// (from the account, when the practice shows it); the card is typed only into the processor's
// own page or fields, never into this page. After the card step the page asks the portal where
// the payment stands (the portal asks the processor: the browser is never taken at its word) until
// it is approved or declined, then shows the receipt, which can be printed; the history lists
// every payment toward the account. Amounts are integer cents end to end, formatted only here.
import { api, busy, el, status } from '../lib.js';
import { formatDateTime, formatMoney, t } from '../i18n.js';
import { empty, failure, forPatient, load, part } from './common.js';

/** How often, and how long, the page asks where a payment stands. */
const POLL_MS = 1500;
const POLL_TRIES = 60;

/** Dollars as typed ("50", "50.5", "1,234.56") in integer cents, or null. */
export function centsOf(text) {
  const m = /^\s*\$?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!m) return null;
  return Number(m[1].replace(/,/g, '')) * 100 + Number((m[2] || '0').padEnd(2, '0'));
}

/** The page's own address with `#payment=` so the processor's page sends the payer back here. */
function backTo(id) {
  return `${location.pathname}#payment=${id}`;
}

export async function render(panel, ctx) {
  // Back from the processor's page: where that payment stands first, then the tab as it now is.
  const outcome = ctx.payment ? await follow(panel, ctx.payment) : null;
  const { me, patientId } = ctx;
  const account = me.features.some((f) => f.key === 'ModuleAccount' && f.available);
  const paths = [forPatient('/v1/payments', patientId, { limit: 10 })];
  if (account) paths.push(forPatient('/v1/account/summary', patientId));
  const data = await load(panel, paths);
  if (!data) return;
  const [history, summary] = data;
  const due = summary ? Math.max(summary.patientPortionCents, 0) : null;

  const said = el('p', { className: 'status', role: 'status', 'aria-live': 'polite' });
  const amount = el('input', { type: 'text', id: 'pay-amount', inputMode: 'decimal', autocomplete: 'off', value: due ? (due / 100).toFixed(2) : '' });
  const note = el('input', { type: 'text', id: 'pay-note', maxLength: 200, autocomplete: 'off' });
  const submit = el('button', { type: 'submit' }, t('payments.continue'));
  const form = el('form', { id: 'pay-form', novalidate: true },
    el('label', { htmlFor: 'pay-amount' }, t('payments.amount')), amount,
    el('label', { htmlFor: 'pay-note' }, t('payments.note')), note,
    el('p', { className: 'hint' }, t('payments.cardHint')),
    submit, said);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, () => pay(patientId, amount, note, said));
  });

  const receipt = outcome && outcome.receipt ? receiptOf(outcome.receipt, me.practice.name) : [];
  panel.replaceChildren(
    el('h2', {}, t('feature.MakePayments.label')),
    ...[receipt].flat(),
    part('payments.pay',
      due === null ? null : el('p', { className: 'due' }, t('payments.due', { amount: formatMoney(due) })),
      form),
    part('payments.history', historyList(history.items)));
  if (outcome && outcome.message) status(said, outcome.message, outcome.good);
  if (outcome && outcome.receipt) receipt.focus();
}

async function pay(patientId, amountInput, noteInput, said) {
  const cents = centsOf(amountInput.value);
  if (cents === null || cents < 100) return status(said, t('payments.amountInvalid'));
  status(said, '');
  // One key per attempt: a double click or a retry after a lost answer makes one payment.
  const body = { amountCents: cents, idempotencyKey: crypto.randomUUID() };
  if (noteInput.value.trim()) body.note = noteInput.value.trim();
  const r = await api('POST', forPatient('/v1/payments', patientId), body);
  if (!r.ok) return status(said, problem(r));
  const { payment, checkout } = r.data;
  if (!checkout) return status(said, t('payments.status.' + payment.status));
  if (checkout.processor === 'test') {
    // The test processor's own page; it sends the payer back to #payment=….
    location.assign(`${checkout.url}?back=${encodeURIComponent(backTo(payment.id))}`);
    return undefined;
  }
  return status(said, t('payments.unavailable'));
}

function problem(r) {
  const code = r.data && r.data.code;
  if (code === 'amount_invalid') return t('payments.amountInvalid') + ' ' + (r.data.detail || '');
  if (code === 'payments_unavailable') return t('payments.unavailable');
  if (code === 'note_invalid') return t('payments.noteInvalid');
  return failure(r);
}

/** Asks where payment `id` stands (a spinner meanwhile) until the processor has decided:
 * answers { receipt } for an approved payment, else { message, good }. */
async function follow(panel, id) {
  panel.setAttribute('aria-busy', 'true');
  panel.replaceChildren(el('p', { className: 'loading', role: 'status' }, el('span', { className: 'spinner', 'aria-hidden': 'true' }), t('payments.waiting')));
  try {
    for (let i = 0; i < POLL_TRIES; i += 1) {
      const r = await api('GET', `/v1/payments/${encodeURIComponent(id)}`);
      if (!r.ok) return { message: failure(r) };
      const p = r.data;
      if (p.status === 'approved') return { receipt: p };
      if (p.status === 'declined') return { message: t('payments.declined', { reason: p.declineReason || '' }) };
      if (p.status === 'canceled') return { message: t('payments.canceled') };
      await new Promise((done) => setTimeout(done, POLL_MS));
    }
    return { message: t('payments.stillWaiting'), good: true };
  } finally {
    panel.removeAttribute('aria-busy');
  }
}

function receiptOf(p, practiceName) {
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

function historyList(items) {
  if (!items.length) return empty('payments.history.empty');
  return el('ul', { className: 'items' }, items.map((p) => el('li', { className: 'line' },
    el('span', { className: 'meta' }, formatDateTime(new Date(p.approvedAt || p.createdAt))),
    el('span', {}, t('payments.reference', { id: p.id }), ' ', el('span', { className: 'badge' + (p.status === 'approved' ? '' : ' off') }, t('payments.status.' + p.status))),
    el('span', { className: 'amount' }, formatMoney(p.amountCents)))));
}
