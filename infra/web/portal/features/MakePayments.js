// Payments: what is due now (on Home too), Pay (the payment page, /p/{practice}/pay, where the card is typed
// into the processor's own fields — the only page that loads the processor's script), and every
// payment toward the account. Amounts are integer cents end to end, formatted only here.
import { api, el } from '../lib.js';
import { formatMoney, t } from '../i18n.js';
import { historyList } from '../payments.js';
import { forPatient, load, part } from './common.js';

/** The payment page for the patient being viewed. */
export function payAddress(me, patientId) {
  const page = `/p/${encodeURIComponent(me.practice.id)}/pay`;
  return patientId === me.principalId ? page : `${page}?${new URLSearchParams({ patient: patientId })}`;
}

/** Home's to-do: the amount due now, with Pay (when the practice shows the account). */
export async function todos({ me, patientId }) {
  if (!me.features.some((f) => f.key === 'ModuleAccount' && f.available)) return [];
  const r = await api('GET', forPatient('/v1/account/summary', patientId));
  if (!r.ok || r.data.patientPortionCents <= 0) return [];
  return [{ text: t('payments.due', { amount: formatMoney(r.data.patientPortionCents) }), action: el('a', { className: 'button', href: payAddress(me, patientId) }, t('account.pay')) }];
}

export async function render(panel, { me, patientId }) {
  const account = me.features.some((f) => f.key === 'ModuleAccount' && f.available);
  const paths = [forPatient('/v1/payments', patientId, { limit: 10 })];
  if (account) paths.push(forPatient('/v1/account/summary', patientId));
  const data = await load(panel, paths);
  if (!data) return;
  const [history, summary] = data;
  const due = summary ? Math.max(summary.patientPortionCents, 0) : null;
  panel.replaceChildren(
    el('h2', {}, t('feature.MakePayments.label')),
    part('payments.pay',
      due === null ? null : el('p', { className: 'due' }, t('payments.due', { amount: formatMoney(due) })),
      el('p', { className: 'hint' }, t('payments.cardHint')),
      el('a', { className: 'button', href: payAddress(me, patientId) }, t('payments.payNow'))),
    part('payments.history', historyList(history.items)));
}
