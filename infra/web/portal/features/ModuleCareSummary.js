// Care summary: who the patient is (sex, sex at birth, race, ethnicity), their problems,
// medications, allergies, immunizations, vital signs, results, procedures, plan of treatment,
// visits, care team and social history (smoking) over the dates chosen, in plain
// words (each entry's codes under Details; which code lists the office has loaded is the office's
// business, shown on the staff page); download it (the C-CDA document and a readable copy in one
// zip, with "Verify this file" help giving its fingerprint), send it by email, and see every
// view, download and send of it.
import { api, busy, el, status } from '../lib.js';
import { CATALOGS, t, formatDateTime, formatDay, formatPracticeTime } from '../i18n.js';
import { empty, failure, forPatient, load, part } from './common.js';
import { codeDetails, hasCodes, procedureName, procedureText } from '../words.js';

const SYSTEMS = { 'SNOMED-CT': 'SNOMED CT', RxNorm: 'RxNorm', CVX: 'CVX', LOINC: 'LOINC', CDT: 'CDT', NPI: 'NPI' };

export async function render(panel, { patientId }) {
  const from = el('input', { type: 'date', id: 'care-from' });
  const to = el('input', { type: 'date', id: 'care-to' });
  const show = el('button', { type: 'submit', className: 'secondary' }, t('care.apply'));
  const filter = el('form', { className: 'filters', 'aria-label': t('care.range') },
    el('div', {}, el('label', { htmlFor: 'care-from' }, t('care.from')), from),
    el('div', {}, el('label', { htmlFor: 'care-to' }, t('care.to')), to),
    el('div', {}, show));
  const note = el('p', { className: 'status', role: 'status', 'aria-live': 'polite' });
  const body = el('div', {});
  const range = () => ({ from: from.value || undefined, to: to.value || undefined });

  async function view() {
    const r = await api('GET', forPatient('/v1/care-summary', patientId, range()));
    if (!r.ok) return status(note, r.status === 400 ? t('care.badRange') : failure(r));
    status(note, '');
    body.replaceChildren(...summary(r.data));
    return history();
  }

  const download = el('button', { type: 'button' }, t('care.download'));
  const downloaded = el('p', { className: 'status', role: 'status', 'aria-live': 'polite' });
  const verify = el('details', { className: 'codes', hidden: true });
  download.addEventListener('click', () => busy(download, async () => {
    const r = await api('POST', forPatient('/v1/care-summary/download', patientId), range());
    if (!r.ok) return status(downloaded, r.status === 400 ? t('care.badRange') : failure(r));
    const a = el('a', { href: r.data.url, rel: 'noopener' });
    document.body.append(a);
    a.click();
    a.remove();
    status(downloaded, t('care.downloaded'), true);
    verify.replaceChildren(el('summary', {}, t('care.verify')), el('p', {}, t('care.verifyHelp')), el('p', { className: 'code' }, r.data.sha256));
    verify.hidden = false;
    return history();
  }));

  const address = el('input', { type: 'email', id: 'care-to-address', autocomplete: 'off', maxLength: 254 });
  const encrypted = el('input', { type: 'checkbox', id: 'care-encrypted' });
  const send = el('button', { type: 'submit' }, t('care.send'));
  const sent = el('p', { className: 'status', role: 'status', 'aria-live': 'polite' });
  const sendForm = el('form', { noValidate: true },
    el('label', { htmlFor: 'care-to-address' }, t('care.sendTo')), address,
    el('label', { className: 'check', htmlFor: 'care-encrypted' }, encrypted, ' ', t('care.encrypted')),
    el('p', { className: 'hint' }, t('care.sendHint')),
    el('div', { className: 'form-foot' }, send), sent);
  sendForm.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(send, async () => {
      const r = await api('POST', forPatient('/v1/care-summary/transmit', patientId), { to: address.value.trim(), encrypted: encrypted.checked });
      if (r.status === 400) return status(sent, t('care.badAddress'));
      if (r.status === 422) return status(sent, t('care.noCertificate'));
      if (!r.ok) return status(sent, failure(r));
      if (r.data.status === 'sent') status(sent, t('care.sent', { to: address.value.trim() }), true);
      else status(sent, t('care.sendFailed'));
      return history();
    });
  });

  const activity = el('ul', { className: 'items', 'aria-label': t('care.activity') });
  async function history() {
    const r = await api('GET', forPatient('/v1/care-summary/activity', patientId));
    if (!r.ok) return;
    activity.replaceChildren(...r.data.items.map((i) => el('li', {},
      el('strong', {}, t('care.action.' + i.action)),
      el('span', { className: 'meta' }, [
        formatDateTime(new Date(i.at)),
        i.by === 'self' ? t('care.bySelf') : t('care.byRepresentative', { name: i.byName || '' }),
        i.to ? t('care.toAddress', { to: i.to }) : '',
        i.outcome === 'success' ? '' : t('care.outcomeFailed'),
      ].filter(Boolean).join(' · ')))));
    if (!activity.children.length) activity.append(empty('care.activityEmpty'));
  }

  filter.addEventListener('submit', (e) => { e.preventDefault(); busy(show, view); });
  const loaded = await load(panel, [forPatient('/v1/care-summary', patientId)]);
  if (!loaded) return;
  body.replaceChildren(...summary(loaded[0]));
  panel.replaceChildren(
    el('h2', {}, t('feature.ModuleCareSummary.label')),
    filter, note, body,
    part('care.downloadTitle', el('p', { className: 'hint' }, t('care.downloadHint')), download, downloaded, verify),
    part('care.sendTitle', sendForm),
    part('care.activity', activity));
  await history();
}

/** Sex, sex at birth, race and ethnicity as the office's record has them (nothing when it has none). */
function about(p) {
  const reported = (r, kind) => (r.declined ? t('care.declined')
    : [...(r.categories || []).map((c) => t(`care.${kind}.${c}`)), ...(r.detailed || []).map((d) => d.display)].join(', '));
  const facts = [
    p.sex && [t('care.sex'), t('care.sex.' + p.sex)],
    p.birthSex && [t('care.birthSex'), t('care.birthSex.' + p.birthSex)],
    p.race && [t('care.race'), reported(p.race, 'race')],
    p.ethnicity && [t('care.ethnicity'), reported(p.ethnicity, 'ethnicity')],
  ].filter(Boolean);
  return facts.length ? part('care.about', el('dl', { className: 'facts' }, facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]))) : null;
}

function summary(s) {
  const out = [about(s.patient)].filter(Boolean);
  for (const sec of s.sections) {
    const items = sec.entries.map((e) => el('li', {},
      el('strong', {}, entryName(e)),
      el('span', { className: 'meta' }, [
        dates(e),
        [e.value, e.unit].filter(Boolean).join(' '),
        e.status ? t('care.status.' + e.status) : '',
        e.tooth ? t('care.tooth', { tooth: e.tooth }) : '',
        // A count (unit 1) is just the number: "dose 2".
        e.dose ? t('care.dose', { dose: e.dose.unit === '1' ? e.dose.value : `${e.dose.value} ${e.dose.unit.replace(/[{}]/g, '')}` }) : '',
        e.route ? t('care.route.' + e.route) : '',
        ...device(e.device),
        ...coverage(e.coverage),
        e.performer || '',
        e.note || '',
      ].filter(Boolean).join(' · ')),
      codeDetails(...entryCodes(e), e.udi ? t('care.udi.printed', { udi: e.udi }) : null)));
    out.push(part('care.section.' + sec.key, items.length ? el('ul', { className: 'items' }, items) : empty('care.none')));
  }
  return out;
}

/** An entry's name: a dental procedure in the patient's words, anything else as its code list
 * names it. */
function entryName(e) {
  if (e.code && e.code.system === 'CDT') return procedureName(e.code.code, e.text);
  // A smoking status in the patient's words (the eight the office's system may send).
  if (e.code && e.code.system === 'SNOMED-CT' && `care.smoking.${e.code.code}` in CATALOGS.en) return t(`care.smoking.${e.code.code}`);
  return hasCodes(e.text) ? procedureText(e.text) : e.text;
}

/** What goes under Details: the code, and the office's own words where the name differs. */
function entryCodes(e) {
  const code = e.code && (e.code.system === 'NPI'
    ? t('words.npi', { code: e.code.code })
    : t('words.code', { system: SYSTEMS[e.code.system] || e.code.system, code: e.code.code }));
  const name = entryName(e);
  return [code, name !== e.text ? t('words.asWritten', { text: e.text }) : null];
}

/** A dental plan: its order, plan name, member id and group, and whose plan it is. */
function coverage(c) {
  if (!c) return [];
  return [
    t('care.coverage.' + c.order),
    c.planName || '',
    t('care.coverage.member', { id: c.memberId }),
    c.groupNumber ? t('care.coverage.group', { group: c.groupNumber }) : '',
    c.relationship !== 'self' && c.subscriberName
      ? t('care.coverage.through', { name: c.subscriberName, relationship: t('care.coverage.rel.' + c.relationship) }) : '',
  ];
}

/** An implant's UDI read into its parts: which device, its lot and serial, its use-by date. */
function device(d) {
  if (!d) return [];
  return [
    t('care.udi.deviceId', { id: d.deviceId }),
    d.lot ? t('care.udi.lot', { lot: d.lot }) : '',
    d.serial ? t('care.udi.serial', { serial: d.serial }) : '',
    d.expires ? t('care.udi.expires', { date: formatDay(d.expires) }) : '',
  ];
}

function dates(e) {
  const day = (d) => (d.length > 10 ? formatPracticeTime(d, { dateStyle: 'medium', timeStyle: 'short' }) : formatDay(d));
  if (!e.date) return '';
  return e.endDate ? t('care.between', { from: day(e.date), to: day(e.endDate) }) : day(e.date);
}
