// Account: the balance broken down, the ledger by date range (a page at a time), and statements
// to download. Amounts arrive as integer cents and are formatted only here.
import { api, busy, el, status } from '../lib.js';
import { t, formatDay, formatMoney } from '../i18n.js';
import { empty, failure, forPatient, load, openFile, opener, part } from './common.js';
import { payAddress } from './MakePayments.js';

/** Home's to-do when the practice does not take payments online (Payments says it otherwise):
 * the amount due, with a way to the account. */
export async function todos({ me, patientId, open }) {
  if (me.features.some((f) => f.key === 'MakePayments' && f.available)) return [];
  const r = await api('GET', forPatient('/v1/account/summary', patientId));
  if (!r.ok || r.data.patientPortionCents <= 0) return [];
  return [{ text: t('payments.due', { amount: formatMoney(r.data.patientPortionCents) }), action: opener(t('home.seeAccount'), () => open('ModuleAccount')) }];
}

export async function render(panel, { me, patientId }) {
  const data = await load(panel, [forPatient('/v1/account/summary', patientId), forPatient('/v1/account/statements', patientId)]);
  if (!data) return;
  const [summary, statements] = data;
  const ledger = el('ul', { className: 'items ledger' });
  const more = el('button', { type: 'button', className: 'secondary', hidden: true }, t('common.more'));
  const note = el('p', { className: 'status', role: 'status' });
  const from = el('input', { type: 'date', id: 'ledger-from' });
  const to = el('input', { type: 'date', id: 'ledger-to' });
  const apply = el('button', { type: 'submit', className: 'secondary' }, t('account.ledger.apply'));
  let cursor = null;

  async function page(reset) {
    const r = await api('GET', forPatient('/v1/account/ledger', patientId, { from: from.value, to: to.value, cursor: reset ? null : cursor, limit: 25 }));
    if (!r.ok) return status(note, r.status === 400 ? t('account.ledger.badRange') : failure(r));
    status(note, '');
    if (reset) ledger.replaceChildren();
    ledger.append(...r.data.items.map((l) => line(l, me)));
    if (!ledger.children.length) ledger.append(el('li', { className: 'empty' }, t('account.ledger.empty')));
    cursor = r.data.nextCursor;
    more.hidden = !cursor;
  }

  const filter = el('form', { className: 'filters', 'aria-label': t('account.ledger.filter') },
    el('div', {}, el('label', { htmlFor: 'ledger-from' }, t('account.ledger.from')), from),
    el('div', {}, el('label', { htmlFor: 'ledger-to' }, t('account.ledger.to')), to),
    el('div', {}, apply));
  filter.addEventListener('submit', (e) => { e.preventDefault(); busy(apply, () => page(true)); });
  more.addEventListener('click', () => busy(more, () => page(false)));

  panel.replaceChildren(
    el('h2', {}, t('feature.ModuleAccount.label')),
    balance(summary, me.features.some((f) => f.key === 'MakePayments' && f.available), me, patientId),
    part('account.statements', statementList(statements.items)),
    part('account.ledger', filter, note, ledger, more));
  await page(true);
}

/** The balance; payments made online and not yet posted by the office, already taken off; Pay
 * (to the Payments tab) when the practice takes payments online. */
function balance(s, canPay, me, patientId) {
  const row = (key, cents, strong) => [el('dt', {}, t(key)), el('dd', { className: strong ? 'strong' : '' }, formatMoney(cents))];
  const posting = s.beingPosted.map((p) => el('li', { className: 'line' },
    el('span', { className: 'meta' }, formatDay(p.approvedAt.slice(0, 10))),
    el('span', {}, t('account.posting')),
    el('span', { className: 'amount credit' }, formatMoney(-p.amountCents))));
  return el('section', { className: 'part' },
    el('h3', {}, t('account.balance')),
    el('dl', { className: 'money' },
      row('account.total', s.totalCents),
      row('account.estimate', -s.insuranceEstimateCents),
      row('account.portion', s.patientPortionCents, true)),
    posting.length ? el('ul', { className: 'items ledger posting' }, posting) : null,
    el('p', { className: 'hint' }, t(s.scope === 'own' ? 'account.scope.own' : 'account.scope.account')),
    canPay && s.patientPortionCents > 0 ? el('a', { className: 'button', href: payAddress(me, patientId) }, t('account.pay')) : null);
}

/** A ledger line; on a family account it says whose it is (a member the viewer may not see is
 * "another family member"). */
function line(l, me) {
  const member = me.family.find((m) => m.patientId === l.patientId);
  const whose = me.family.length > 1 || !member ? (member ? member.name : t('account.otherMember')) : '';
  return el('li', { className: 'line' },
    el('span', { className: 'meta' }, [formatDay(l.date), whose].filter(Boolean).join(' · ')),
    el('span', {}, l.description, ' ', el('span', { className: 'badge off' }, t('account.kind.' + l.kind))),
    el('span', { className: 'amount' + (l.amountCents < 0 ? ' credit' : '') }, formatMoney(l.amountCents)));
}

function statementList(items) {
  if (!items.length) return empty('account.statements.empty');
  return el('ul', { className: 'items' }, items.map((s) => {
    const said = el('p', { className: 'status', role: 'status' });
    const button = el('button', { type: 'button', className: 'secondary', 'aria-label': t('account.statement.downloadOf', { date: formatDay(s.date) }) }, t('common.download'));
    button.addEventListener('click', () => busy(button, async () => status(said, await openFile(`/v1/account/statements/${encodeURIComponent(s.id)}/file`))));
    return el('li', {},
      el('strong', {}, t('account.statement.of', { date: formatDay(s.date, 'long') })),
      el('span', { className: 'meta' }, t('account.statement.balance', { amount: formatMoney(s.balanceCents) })),
      button, said);
  }));
}
