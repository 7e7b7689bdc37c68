// "Add to calendar": an iCalendar file (RFC 5545) for one appointment, made in the page and saved
// by the browser — nothing about it is sent anywhere. The event is at the absolute time the
// practice's system gave (its offset included), so a calendar in any zone shows it right.
import { el } from './lib.js';

/** A text value as iCalendar wants it: backslash, semicolon, comma and newlines escaped. */
const text = (s) => String(s).replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r?\n/g, '\\n');

/** A UTC date-time: 20261213T140000Z. */
const utc = (d) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

/** Folds a content line at 75 octets (continuation lines start with a space). */
function fold(line) {
  const bytes = new TextEncoder().encode(line);
  if (bytes.length <= 75) return line;
  const out = [];
  let current = '';
  for (const ch of line) {
    if (new TextEncoder().encode(current + ch).length > (out.length ? 74 : 75)) {
      out.push(current);
      current = '';
    }
    current += ch;
  }
  out.push(current);
  return out.join('\r\n ');
}

/** The calendar file of one appointment: `{ id, start, lengthMinutes }`, with a summary and
 * description already in the page's language and the office's address as its location. */
export function appointmentCalendar(a, { practiceId, summary, description, location }) {
  const start = new Date(a.start);
  const end = new Date(start.getTime() + a.lengthMinutes * 60_000);
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Patient portal//Appointments//EN',
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
    'BEGIN:VEVENT',
    `UID:${a.id}@${practiceId}.patient-portal`,
    `DTSTAMP:${utc(new Date())}`,
    `DTSTART:${utc(start)}`,
    `DTEND:${utc(end)}`,
    `SUMMARY:${text(summary)}`,
    `DESCRIPTION:${text(description)}`,
    location ? `LOCATION:${text(location)}` : null,
    'END:VEVENT',
    'END:VCALENDAR',
  ].filter(Boolean).map(fold).join('\r\n') + '\r\n';
}

/** A link that saves `content` as `fileName` (a text/calendar file). */
export function calendarLink(label, fileName, content) {
  const link = el('a', { className: 'button secondary', download: fileName, href: 'data:text/calendar;charset=utf-8,' + encodeURIComponent(content) }, label);
  return link;
}
