// Treatment plans, newest first: each plan's procedures (tooth, surface, the procedure in plain
// words with its CDT code under Details, fee, insurance estimate, patient portion, priority, status) and its totals, as the practice's system sent them
// in integer cents.
import { el } from '../lib.js';
import { t, formatDay, formatMoney } from '../i18n.js';
import { empty, forPatient, load } from './common.js';
import { codeDetails, procedureName } from '../words.js';

export async function render(panel, { patientId }) {
  const data = await load(panel, [forPatient('/v1/treatment-plans', patientId)]);
  if (!data) return;
  const plans = data[0].items;
  panel.replaceChildren(el('h2', {}, t('feature.ModuleTreatmentPlan.label')), ...(plans.length ? plans.map(plan) : [empty('plans.empty')]));
}

function plan(p) {
  const columns = ['plans.tooth', 'plans.procedure', 'plans.fee', 'plans.insurance', 'plans.you', 'plans.priority', 'plans.status'];
  // Each cell carries its column's name: on a phone a row becomes a card of labelled lines.
  const cell = (i, content, className) => el('td', { className, 'data-label': t(columns[i]) }, content);
  const money = (i, cents, strong) => cell(i, formatMoney(cents), strong ? 'num strong' : 'num');
  return el('section', { className: 'part plan' },
    el('h3', {}, p.heading),
    el('p', { className: 'meta' }, formatDay(p.date, 'long'), ' ', el('span', { className: 'badge' }, t('plans.planStatus.' + p.status))),
    p.note ? el('p', {}, p.note) : null,
    el('table', { className: 'cards' },
      el('thead', {}, el('tr', {}, columns.map((k, i) => el('th', { scope: 'col', className: i >= 2 && i <= 4 ? 'num' : '' }, t(k))))),
      el('tbody', {}, p.procedures.map((x) => el('tr', {},
        cell(0, [x.tooth ? '#' + x.tooth : '', x.surface || ''].filter(Boolean).join(' ') || '—'),
        cell(1, el('span', {}, procedureName(x.cdtCode, x.description), codeDetails(t('words.code', { system: 'CDT', code: x.cdtCode }), t('words.asWritten', { text: x.description })))),
        money(2, x.feeCents), money(3, x.insuranceEstimateCents), money(4, x.patientPortionCents),
        cell(5, x.priority ? String(x.priority) : '—'),
        cell(6, t('plans.procStatus.' + x.status))))),
      el('tfoot', {}, el('tr', {},
        el('th', { scope: 'row', colSpan: 2 }, t('plans.total')),
        money(2, p.totals.feeCents), money(3, p.totals.insuranceEstimateCents), money(4, p.totals.patientPortionCents, true),
        el('td', { colSpan: 2, className: 'filler' })))));
}
