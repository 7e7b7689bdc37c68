// The payment page, /p/{practice}/pay: the only page that loads the card processor's script (its
// address's policy names the processor's origins; every other page's does not).
//
// A signed-in patient pays toward the account of whoever they are viewing (`?patient=`, an opaque
// id); anyone else pays without logging in (Open Dental's "Pay Now": a patient's name and
// birthdate, an email for the receipt) and is never told whether those matched a patient. Then
// the card: typed into the processor's own fields (Stripe.js), which turn it into a single-use
// token — only that token reaches the portal — or on the test processor's own page, which sends
// the payer back here. The page asks the portal where the payment stands (the portal asks the
// processor) and shows the receipt, or why the card was declined so another can be tried. A
// guest's page follows its payment with the random key it made for the start; coming back from
// the test processor, the id and key ride in the address's #fragment, which is taken out at once.
import { $, api, busy, onSubmit, status } from './lib.js';
import { LANGUAGES, chooseLanguage, formatMoney, language, setLanguage, t, translate } from './i18n.js';
import { centsOf, follow, paymentProblem, receiptOf } from './payments.js';

const VIEWS = ['loading-view', 'unknown-view', 'signin-view', 'pay-view', 'receipt-view'];
const state = { practice: null, patientId: null, guestKey: null, payment: null, stripe: null, card: null };

function show(view) {
  for (const id of VIEWS) $(id).hidden = id !== view;
  const first = $(view).querySelector('input:not([hidden] input), [tabindex]');
  if (first) first.focus();
}

function paintHeader() {
  const name = state.practice ? state.practice.name : t('app.title');
  $('practice-name').textContent = name;
  document.title = `${t('pay.title')} · ${name}`;
}

/** The practice this address names: /p/{practice}/pay. */
function practiceFromAddress() {
  const m = location.pathname.match(/^\/p\/([^/]+)\/pay$/);
  return m ? decodeURIComponent(m[1]) : null;
}

/** A payment the processor's page sent the payer back with (`#payment={id}`, a guest's
 * `#guest={id}.{key}`), taken out of the address. */
function takeReturn() {
  const m = location.hash.match(/^#(?:payment=([0-9a-f]{26})|guest=([0-9a-f]{26})\.([A-Za-z0-9_-]{32,64}))$/);
  if (!m) return null;
  history.replaceState(null, '', location.pathname + location.search);
  return m[1] ? { id: m[1] } : { id: m[2], key: m[3] };
}

const guest = () => state.guestKey !== null;
const proof = (extra = {}) => ({ practice: state.practice.id, idempotencyKey: state.guestKey, ...extra });

/** Where a payment stands, once (a guest proves its key). */
function readPayment(id) {
  return guest()
    ? api('POST', `/v1/public/payments/${encodeURIComponent(id)}/status`, proof())
    : api('GET', `/v1/payments/${encodeURIComponent(id)}`);
}

function showReceipt(payment) {
  $('receipt').replaceChildren(receiptOf(payment, state.practice.name));
  show('receipt-view');
  $('receipt').querySelector('.receipt').focus();
}

/** Follows a payment to its outcome: the receipt, or the reason on the card step. */
async function settle(id) {
  status('pay-status', t('payments.waiting'), true);
  const outcome = await follow(id, () => readPayment(id));
  if (outcome.payment && outcome.payment.status === 'approved') return showReceipt(outcome.payment);
  return status('pay-status', outcome.message, outcome.good);
}

/** Loads the processor's script once (its address comes from the portal, its origin is in this
 * page's policy). */
function loadScript(src) {
  if (window.Stripe) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error('script'));
    document.head.append(s);
  });
}

/** The card step for a started payment. */
async function cardStep(payment, checkout) {
  state.payment = payment;
  if (checkout.processor === 'test') {
    const back = `${location.pathname}${location.search}#${guest() ? `guest=${payment.id}.${state.guestKey}` : `payment=${payment.id}`}`;
    location.assign(`${checkout.url}?back=${encodeURIComponent(back)}`);
    return;
  }
  if (checkout.processor !== 'stripe' || !checkout.scriptUrl) return status('pay-status', t('payments.unavailable'));
  try {
    await loadScript(checkout.scriptUrl);
  } catch (_) {
    return status('pay-status', t('pay.processorDown'));
  }
  state.stripe = window.Stripe(checkout.publishableKey);
  state.card = state.stripe.elements().create('card');
  state.card.mount('#card-element');
  $('amount-form').hidden = true;
  $('guest-intro').hidden = true;
  $('card-form').hidden = false;
  $('card-amount').textContent = t('pay.amountIs', { amount: formatMoney(payment.amountCents) });
  $('card-pay').textContent = t('pay.payAmount', { amount: formatMoney(payment.amountCents) });
  status('pay-status', '');
}

/** The guest's details, or null (with the reason shown) when one is missing. */
function guestDetails() {
  const details = {
    firstName: $('guest-first').value.trim(),
    lastName: $('guest-last').value.trim(),
    birthdate: $('guest-birthdate').value,
    email: $('guest-email').value.trim(),
  };
  if (!details.firstName || !details.lastName || !details.birthdate) {
    status('pay-status', t('pay.guestMissing'));
    return null;
  }
  if (!details.email) delete details.email;
  return details;
}

onSubmit($('amount-form'), async () => {
  const cents = centsOf($('pay-amount').value);
  if (cents === null || cents < 100) return status('pay-status', t('payments.amountInvalid'));
  // One key per attempt: a double click or a retry after a lost answer makes one payment.
  const body = { amountCents: cents, idempotencyKey: crypto.randomUUID() };
  const note = $('pay-note').value.trim();
  if (note) body.note = note;
  let r;
  if (guest()) {
    const details = guestDetails();
    if (!details) return undefined;
    state.guestKey = body.idempotencyKey;
    r = await api('POST', '/v1/public/payments', { practice: state.practice.id, ...details, ...body });
  } else {
    r = await api('POST', `/v1/payments?${new URLSearchParams({ patient: state.patientId })}`, body);
  }
  if (!r.ok) return status('pay-status', r.data && r.data.code === 'email_invalid' ? t('pay.emailInvalid') : paymentProblem(r));
  if (!r.data.checkout) return settle(r.data.payment.id);
  return cardStep(r.data.payment, r.data.checkout);
});

onSubmit($('card-form'), async () => {
  const { token, error } = await state.stripe.createToken(state.card);
  if (error || !token) return status('pay-status', (error && error.message) || t('pay.cardUnreadable'));
  const id = encodeURIComponent(state.payment.id);
  const r = guest()
    ? await api('POST', `/v1/public/payments/${id}/card`, proof({ token: token.id }))
    : await api('POST', `/v1/payments/${id}/card`, { token: token.id });
  if (!r.ok) return status('pay-status', paymentProblem(r));
  if (r.data.payment.status === 'approved') return showReceipt(r.data.payment);
  if (r.data.payment.status === 'declined') return status('pay-status', t('payments.declined', { reason: r.data.payment.declineReason || '' }));
  // The bank wants its own check (3-D Secure): Stripe.js shows it, then the portal hears from Stripe.
  if (r.data.action) await state.stripe.confirmCardPayment(r.data.action);
  return settle(state.payment.id);
});

$('language').addEventListener('change', () => {
  setLanguage($('language').value);
  translate(document);
  paintHeader();
});

/** A signed-in patient of this practice: whose account, and what is due. Answers false when
 * the practice does not take payments online for them. */
async function asPatient() {
  const me = await api('GET', '/v1/me');
  if (!me.ok) return true;
  const self = me.data.family.find((m) => m.relationship === 'self');
  chooseLanguage(self && self.preferredLanguage);
  $('language').value = language();
  translate(document);
  paintHeader();
  if (!me.data.features.some((f) => f.key === 'MakePayments' && f.available)) return false;
  const requested = new URLSearchParams(location.search).get('patient');
  const member = me.data.family.find((m) => m.patientId === requested) || self;
  state.patientId = member.patientId;
  $('pay-for').textContent = member.relationship === 'self' ? '' : t('pay.for', { name: member.name });
  if (me.data.features.some((f) => f.key === 'ModuleAccount' && f.available)) {
    const sum = await api('GET', `/v1/account/summary?${new URLSearchParams({ patient: state.patientId })}`);
    if (sum.ok) {
      const due = Math.max(sum.data.patientPortionCents, 0);
      $('pay-due').textContent = t('payments.due', { amount: formatMoney(due) });
      if (due >= 100) $('pay-amount').value = (due / 100).toFixed(2);
    }
  }
  return true;
}

async function start() {
  chooseLanguage();
  $('language').replaceChildren(...LANGUAGES.map((l) => Object.assign(document.createElement('option'), { value: l.code, lang: l.code, textContent: l.name })));
  $('language').value = language();
  translate(document);
  paintHeader();
  const id = practiceFromAddress();
  if (!id) return show('unknown-view');
  const [practice, session] = await Promise.all([api('GET', `/v1/practices/${encodeURIComponent(id)}`), api('GET', '/v1/session')]);
  if (!practice.ok) return show('unknown-view');
  state.practice = practice.data;
  paintHeader();
  const portal = `/p/${encodeURIComponent(state.practice.id)}/`;
  for (const a of ['signin-link', 'back-link', 'receipt-back', 'guest-signin']) $(a).href = portal;
  const s = session.data || {};
  const returned = takeReturn();
  if (s.authenticated && s.kind === 'patient' && s.practiceId === state.practice.id && !s.mustChangePassword) {
    if (!(await asPatient())) return show('signin-view');
  } else {
    // Paying without logging in.
    state.guestKey = returned && returned.key ? returned.key : '';
    $('guest-intro').hidden = false;
    $('guest-fields').hidden = false;
  }
  show('pay-view');
  if (returned) await busy($('amount-continue'), () => settle(returned.id));
  return undefined;
}

start();
