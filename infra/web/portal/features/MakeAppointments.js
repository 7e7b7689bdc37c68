// Appointments: what needs doing first (confirm an appointment the office asked about, book a due
// recall into an open time), then upcoming and past visits. Times are the practice's own clock.
import { api, busy, el, status } from '../lib.js';
import { t, formatDay, formatPracticeTime } from '../i18n.js';
import { empty, failure, forPatient, load, opener, part } from './common.js';
import { codeDetails, hasCodes, procedureText, recallName } from '../words.js';
import { appointmentCalendar, calendarLink } from '../calendar.js';
import { addressBlock, contact } from '../contact.js';

/** Renders the tab; `done` is what the last action achieved, said at the top once the lists show it. */
export async function render(panel, ctx, done) {
  const data = await load(panel, [forPatient('/v1/appointments', ctx.patientId), forPatient('/v1/appointments/recalls', ctx.patientId)]);
  if (!data) return;
  const [appointments, recalls] = data;
  const again = (message) => render(panel, ctx, message);
  const toConfirm = appointments.upcoming.filter((a) => a.canConfirm);
  const actions = [...toConfirm.map((a) => confirmCard(a, ctx, again)), ...recalls.items.map((r) => recallCard(r, ctx.patientId, again))];
  // One waiting for confirmation is listed once: under "To do".
  const upcoming = appointments.upcoming.filter((a) => !a.canConfirm);
  panel.replaceChildren(
    el('h2', {}, t('feature.MakeAppointments.label')),
    contact().address ? el('div', { className: 'where' }, el('span', { className: 'label' }, t('appointments.where', { practice: ctx.me.practice.name })), addressBlock()) : null,
    el('p', { className: 'status good', role: 'status' }, done || ''),
    part('appointments.actions', actions.length ? el('ul', { className: 'items' }, actions) : empty('appointments.actions.none')),
    part('appointments.upcoming', list(upcoming, 'appointments.upcoming.none', { ...ctx, again })),
    part('appointments.past', list(appointments.past, 'appointments.past.none'), older(appointments.nextCursor, ctx.patientId)));
}

/** Home's to-dos: each appointment waiting for confirmation (confirmed right there) and each due
 * recall (Book opens this view, where a time is chosen). */
export async function todos({ patientId, open, again }) {
  const [appointments, recalls] = await Promise.all([api('GET', forPatient('/v1/appointments', patientId)), api('GET', forPatient('/v1/appointments/recalls', patientId))]);
  const items = [];
  for (const a of appointments.ok ? appointments.data.upcoming.filter((x) => x.canConfirm) : []) {
    const said = el('span', { className: 'status', role: 'status' });
    const button = el('button', { type: 'button' }, t('appointments.confirm'));
    button.addEventListener('click', () => busy(button, async () => {
      const r = await api('POST', forPatient(`/v1/appointments/${encodeURIComponent(a.id)}/confirm`, patientId), {});
      if (!r.ok) return status(said, failure(r));
      return again();
    }));
    items.push({ text: t('home.confirm', { when: when(a) }), action: el('span', { className: 'act' }, button, said) });
  }
  for (const r of recalls.ok ? recalls.data.items : []) {
    items.push({ text: t('appointments.recallDue', { type: recallName(r.type), date: formatDay(r.dueDate, 'long') }), action: opener(t('home.book'), () => open('MakeAppointments')) });
  }
  return items;
}

/** "Show more": the next page of past appointments, appended to the list above it. */
function older(cursor, patientId) {
  if (!cursor) return null;
  const said = el('p', { className: 'status', role: 'status' });
  const more = el('button', { type: 'button', className: 'secondary' }, t('common.more'));
  more.addEventListener('click', () => busy(more, async () => {
    const r = await api('GET', forPatient('/v1/appointments', patientId, { cursor }));
    if (!r.ok) return status(said, failure(r));
    const past = r.data.upcoming.concat(r.data.past);
    const shown = more.closest('.part').querySelector('ul.items, .empty');
    if (past.length) shown.replaceWith(el('ul', { className: 'items' }, shown.matches('ul') ? [...shown.children] : [], [...list(past).children]));
    more.parentElement.replaceWith(older(r.data.nextCursor, patientId) || '');
  }));
  return el('div', {}, more, said);
}

function when(a) {
  return formatPracticeTime(a.start);
}

function describe(a) {
  return [
    el('strong', {}, when(a)),
    el('span', { className: 'meta' }, t('appointments.with', { provider: a.provider.name || t('appointments.provider'), minutes: a.lengthMinutes })),
    // A portal booking's procedures are its recall's type ("Prophy"): named as the recall is.
    a.procedures ? el('span', {}, a.status === 'requested' ? recallName(a.procedures) : procedureText(a.procedures)) : null,
    hasCodes(a.procedures) ? codeDetails(t('words.asWritten', { text: a.procedures })) : null,
    a.changeRequested ? el('span', {}, el('span', { className: 'badge' }, t('appointments.requested.' + a.changeRequested))) : null,
  ];
}

/** Appointments; upcoming ones (`upcoming`: the view's context) each with "Add to calendar" and
 * a way to ask the office to reschedule or cancel (or what was asked). */
function list(items, none, upcoming) {
  if (!items.length) return empty(none || 'appointments.past.none');
  return el('ul', { className: 'items' }, items.map((a) => el('li', {}, ...describe(a),
    el('span', {}, el('span', { className: 'badge' + (a.status === 'scheduled' ? '' : ' off') }, t('appointments.status.' + a.status)), ' ',
      a.status === 'scheduled' ? el('span', { className: 'badge off' }, t('appointments.confirmation.' + a.confirmation)) : null),
    upcoming && a.status === 'scheduled' ? el('div', { className: 'act' }, addToCalendar(a, upcoming.me), changeRequest(a, upcoming)) : null)));
}

/** "Ask to reschedule" / "Ask to cancel": a note for the office (optional), then one request;
 * the practice decides and its system sends the appointment back changed. */
function changeRequest(a, { patientId, again }) {
  if (a.changeRequested || contact().appointmentRequests === false) return null;
  const box = el('div', { className: 'change-request' });
  const ask = (kind) => {
    const noteId = `note-${kind}-${a.id}`;
    const note = el('textarea', { id: noteId, maxLength: 500, rows: 2 });
    const said = el('p', { className: 'status', role: 'status' });
    const send = el('button', { type: 'submit' }, t('appointments.sendRequest.' + kind));
    const form = el('form', { noValidate: true },
      el('label', { htmlFor: noteId }, t('appointments.requestNote')), note, send, said);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(send, async () => {
        const r = await api('POST', forPatient(`/v1/appointments/${encodeURIComponent(a.id)}/change-request`, patientId), { kind, note: note.value });
        if (!r.ok) return status(said, r.status === 403 ? t('appointments.requestsOff') : failure(r));
        return again(t('appointments.requestSent.' + kind));
      });
    });
    box.replaceChildren(form);
    note.focus();
  };
  const button = (kind) => {
    const b = el('button', { type: 'button', className: 'secondary', 'aria-label': `${t('appointments.ask.' + kind)}: ${formatPracticeTime(a.start)}` }, t('appointments.ask.' + kind));
    b.addEventListener('click', () => ask(kind));
    return b;
  };
  box.append(button('reschedule'), button('cancel'));
  return box;
}

function addToCalendar(a, me) {
  const summary = t('appointments.icsSummary', { practice: me.practice.name });
  const description = [t('appointments.with', { provider: a.provider.name || t('appointments.provider'), minutes: a.lengthMinutes }), procedureText(a.procedures)]
    .filter(Boolean).join('\n');
  const file = appointmentCalendar(a, { practiceId: me.practice.id, summary, description, location: contact().address.replace(/\n/g, ', ') });
  const link = calendarLink(t('appointments.addToCalendar'), `appointment-${a.start.slice(0, 10)}.ics`, file);
  link.setAttribute('aria-label', `${t('appointments.addToCalendar')}: ${formatPracticeTime(a.start)}`);
  return link;
}

/** An appointment the office asked the patient to confirm: Confirm, or ask to move or cancel it. */
function confirmCard(a, ctx, again) {
  const { patientId } = ctx;
  const said = el('p', { className: 'status', role: 'status' });
  const button = el('button', { type: 'button' }, t('appointments.confirm'));
  button.addEventListener('click', () => busy(button, async () => {
    const r = await api('POST', forPatient(`/v1/appointments/${encodeURIComponent(a.id)}/confirm`, patientId), {});
    if (!r.ok) return status(said, failure(r));
    await again(t('appointments.confirmed'));
  }));
  return el('li', { className: 'action' }, el('span', { className: 'badge' }, t('appointments.confirmAsk')), ...describe(a), button, said,
    el('div', { className: 'act' }, addToCalendar(a, ctx.me), changeRequest(a, { ...ctx, again })));
}

function recallCard(r, patientId, again) {
  const said = el('p', { className: 'status', role: 'status' });
  const name = 'slot-' + r.id;
  const heading = t('appointments.recallDue', { type: recallName(r.type), date: formatDay(r.dueDate, 'long') });
  if (!r.slots.length) return el('li', { className: 'action' }, el('strong', {}, heading), el('p', {}, t('appointments.noSlots')));
  const choices = el('fieldset', { className: 'slots' }, el('legend', {}, t('appointments.chooseSlot')),
    r.slots.map((s, i) => el('label', {},
      el('input', { type: 'radio', name, value: s.id, checked: i === 0 }),
      `${formatPracticeTime(s.start)} · ${s.provider.name || t('appointments.provider')}`)));
  const button = el('button', { type: 'button' }, t('appointments.book'));
  button.addEventListener('click', () => busy(button, async () => {
    const slotId = choices.querySelector('input:checked').value;
    const res = await api('POST', forPatient(`/v1/appointments/recalls/${encodeURIComponent(r.id)}/book`, patientId), { slotId });
    if (res.status === 409 && res.data && res.data.code === 'slot_taken') {
      status(said, t('appointments.slotTaken'));
      return setTimeout(() => again(), 1500);
    }
    if (!res.ok) return status(said, failure(res));
    await again(t('appointments.booked', { when: formatPracticeTime(res.data.appointment.start) }));
  }));
  return el('li', { className: 'action' }, el('strong', {}, heading), choices, button, said);
}
