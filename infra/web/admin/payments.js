// The payments screen: the practice's online payments by status, newest first; one payment's
// facts and refunds; a refund in part or in full (admins), and assigning an unmatched guest
// payment to the patient found by a search (admins). Below, the payment processor: which one, its
// keys (write-only: the secret ones are never shown again), the online limit, Test connection.
// Amounts are integer cents from the API, formatted only here.
import { $, api, busy, el, onSubmit, status } from '/lib.js';

const money = (cents) => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(cents / 100);
const when = (iso) => new Date(iso).toLocaleString();
const problem = (r, fallback) => (r.status === 0 ? 'The portal could not be reached.' : (r.data && r.data.detail) || fallback);
const LABEL = { none: 'None (no online payments)', test: 'Test processor (no money moves)', stripe: 'Stripe' };
let cursor = null;
let open = null;
let canEdit = false;
let setup = null;
let practiceOf = () => '';

/** Dollars as typed in integer cents, or null. */
function cents(text) {
  const m = /^\s*\$?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?\s*$/.exec(text);
  return m ? Number(m[1].replace(/,/g, '')) * 100 + Number((m[2] || '0').padEnd(2, '0')) : null;
}

function who(p) {
  if (p.patientName) return p.patientName;
  if (p.guest) return `Unmatched guest payment: ${p.guest.firstName} ${p.guest.lastName}, born ${p.guest.birthdate}`;
  return 'Unknown patient';
}

function badge(p) {
  const off = p.status !== 'approved';
  return el('span', { className: 'badge' + (off ? ' off' : '') }, p.status[0].toUpperCase() + p.status.slice(1));
}

export async function load(editable, reset = true) {
  canEdit = editable;
  if (reset) cursor = null;
  const q = new URLSearchParams({ status: $('payments-status').value, limit: '25' });
  if (cursor) q.set('cursor', cursor);
  const r = await api('GET', `/v1/admin/payments?${q}`);
  if (!r.ok) return status('payments-list-status', problem(r, 'The payments could not be loaded.'));
  status('payments-list-status', '');
  const rows = r.data.items.map((p) => {
    const details = el('button', { type: 'button', className: 'secondary', 'aria-label': `Details of the payment of ${money(p.amountCents)} on ${when(p.createdAt)}` }, 'Details');
    details.addEventListener('click', () => show(p.id));
    return el('li', {}, el('strong', {}, `${money(p.amountCents)} · ${who(p)}`),
      el('span', { className: 'meta' }, `${when(p.approvedAt || p.createdAt)} · ${p.payer === 'guest' ? 'paid without logging in' : 'paid in the portal'} · reference ${p.id}`),
      el('span', {}, badge(p), p.refundedCents ? el('span', { className: 'meta' }, ` ${money(p.refundedCents)} refunded`) : null),
      details);
  });
  if (reset) $('payments-items').replaceChildren(...rows);
  else $('payments-items').append(...rows);
  if (!$('payments-items').children.length) $('payments-items').append(el('li', { className: 'meta' }, 'No payments here.'));
  cursor = r.data.nextCursor;
  $('payments-more').hidden = !cursor;
  await loadSetup();
  return undefined;
}

async function show(id) {
  const r = await api('GET', `/v1/admin/payments/${encodeURIComponent(id)}`);
  if (!r.ok) return status('payments-list-status', problem(r, 'The payment could not be opened.'));
  open = r.data;
  const p = r.data;
  const fact = (k, v) => [el('dt', {}, k), el('dd', {}, v)];
  $('payment-facts').replaceChildren(
    ...fact('Amount', money(p.amountCents)),
    ...fact('Status', p.status),
    ...fact('Patient', who(p)),
    ...fact('Paid', when(p.approvedAt || p.createdAt)),
    ...fact('Card', p.card ? `${p.card.brand} ending in ${p.card.last4}` : '—'),
    ...fact('Processor', `${LABEL[p.processor] || p.processor}${p.processorRef ? ` (${p.processorRef})` : ''}`),
    ...fact('Reference', p.id),
    ...(p.note ? fact('Note from the payer', p.note) : []),
    ...(p.guest && p.guest.email ? fact('Receipt email', p.guest.email) : []));
  $('payment-refunds').replaceChildren(...p.refunds.map((x) => el('li', {}, `${money(x.amountCents)} refunded ${when(x.at)} (${x.processorRef})`)));
  const left = p.amountCents - p.refundedCents;
  $('refund-form').hidden = !canEdit || p.status !== 'approved';
  $('refund-amount').value = (left / 100).toFixed(2);
  $('assign-form').hidden = !canEdit || Boolean(p.patientId);
  $('assign-items').replaceChildren();
  status('payment-status', '');
  $('payment-detail').hidden = false;
  $('payment-detail').focus();
  return undefined;
}

async function assignTo(patient) {
  const r = await api('POST', `/v1/admin/payments/${encodeURIComponent(open.id)}/assign`, { patientId: patient.patientId });
  if (!r.ok) return status('payment-status', problem(r, 'The payment was not assigned.'));
  await show(open.id);
  status('payment-status', `Assigned to ${patient.name}.`, true);
  return load(canEdit);
}

async function loadSetup() {
  const r = await api('GET', '/v1/admin/payments/setup');
  if (!r.ok) return status('payment-setup-status', problem(r, 'The payment setup could not be loaded.'));
  setup = r.data;
  $('payment-webhook-url').textContent = `${location.origin}/v1/webhooks/stripe/${practiceOf()}`;
  $('payment-processor').replaceChildren(...setup.processors.map((k) => el('option', { value: k, selected: k === setup.processor }, LABEL[k] || k)));
  $('payment-publishable').value = setup.publishableKey;
  $('payment-secret').value = '';
  $('payment-secret').placeholder = setup.secretKeySet ? 'Saved (leave empty to keep it)' : 'sk_live_…';
  $('payment-webhook').value = '';
  $('payment-webhook').placeholder = setup.webhookSecretSet ? 'Saved (leave empty to keep it)' : 'whsec_…';
  $('payment-limit').value = (setup.limitCents / 100).toFixed(2);
  for (const input of $('payment-setup-form').querySelectorAll('input, select, button')) input.disabled = !canEdit;
  $('payment-test').disabled = !canEdit;
  return undefined;
}

export function wirePayments(practiceId) {
  practiceOf = practiceId;
  onSubmit($('payments-form'), () => load(canEdit));
  $('payments-more').addEventListener('click', () => busy($('payments-more'), () => load(canEdit, false)));
  $('payment-close').addEventListener('click', () => { $('payment-detail').hidden = true; open = null; });
  onSubmit($('refund-form'), async () => {
    const amount = cents($('refund-amount').value);
    if (!amount) return status('payment-status', 'Enter the amount to refund in dollars and cents.');
    if (!confirm(`Refund ${money(amount)} to the card? This cannot be undone.`)) return undefined;
    const r = await api('POST', `/v1/admin/payments/${encodeURIComponent(open.id)}/refund`, { amountCents: amount, idempotencyKey: crypto.randomUUID() });
    if (!r.ok) return status('payment-status', problem(r, 'Nothing was refunded.'));
    await show(open.id);
    status('payment-status', `${money(amount)} refunded.`, true);
    return load(canEdit);
  });
  onSubmit($('assign-form'), async () => {
    const r = await api('GET', `/v1/admin/patients?${new URLSearchParams({ q: $('assign-q').value.trim() })}`);
    if (!r.ok) return status('payment-status', problem(r, 'No patients were found.'));
    $('assign-items').replaceChildren(...r.data.items.map((patient) => {
      const b = el('button', { type: 'button', className: 'secondary', 'aria-label': `Assign to ${patient.name}` }, 'Assign');
      b.addEventListener('click', () => busy(b, () => assignTo(patient)));
      return el('li', {}, el('strong', {}, patient.name), el('span', { className: 'meta' }, `Born ${patient.birthdate}`), b);
    }));
    if (!r.data.items.length) $('assign-items').append(el('li', { className: 'meta' }, 'No patient matches.'));
    return undefined;
  });
  onSubmit($('payment-setup-form'), async () => {
    const limit = cents($('payment-limit').value);
    if (!limit) return status('payment-setup-status', 'Enter the online limit in dollars.');
    const body = { processor: $('payment-processor').value, publishableKey: $('payment-publishable').value.trim(), limitCents: limit, version: setup.version };
    if ($('payment-secret').value.trim()) body.secretKey = $('payment-secret').value.trim();
    if ($('payment-webhook').value.trim()) body.webhookSecret = $('payment-webhook').value.trim();
    const r = await api('PUT', '/v1/admin/payments/setup', body);
    if (!r.ok) return status('payment-setup-status', problem(r, 'The payment setup was not saved.'));
    await loadSetup();
    return status('payment-setup-status', 'Saved.', true);
  });
  $('payment-test').addEventListener('click', () => busy($('payment-test'), async () => {
    const r = await api('POST', '/v1/admin/payments/setup/test');
    if (!r.ok) return status('payment-setup-status', problem(r, 'The connection could not be tested.'));
    return status('payment-setup-status', r.data.ok ? `Connected: ${r.data.detail}` : `Not connected: ${r.data.detail}`, r.data.ok);
  }));
}
