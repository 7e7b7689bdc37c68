// How to reach the office — the practice's phone, address (with a map link) and hours, from its
// settings — behind "Contact us" in the header of every screen, signed in or not, and wherever
// a view needs it (the address on Appointments, in a calendar file). Public information only.
import { el } from './lib.js';
import { t } from './i18n.js';

let practice = null;

/** The practice this page is for (`/v1/practices/{id}`), once known. */
export function setPractice(p) {
  practice = p;
}

export const contact = () => (practice && practice.contact) || { phone: '', address: '', hours: '' };

/** A map search for the address (opened in a new tab; the portal's address is not sent along). */
export const mapLink = (address) => 'https://www.google.com/maps/search/?api=1&query=' + encodeURIComponent(address.replace(/\n/g, ', '));

/** The phone as a link that dials it, or null. */
export function phoneLink(phone = contact().phone) {
  return phone ? el('a', { href: 'tel:' + phone.replace(/[^0-9+]/g, '') }, phone) : null;
}

/** The address, one line each, and "Map", or null. */
export function addressBlock(address = contact().address) {
  if (!address) return null;
  return el('p', { className: 'address' }, ...address.split('\n').flatMap((line, i) => (i ? [el('br', {}), line] : [line])), ' ',
    el('a', { href: mapLink(address), target: '_blank', rel: 'noopener noreferrer' }, t('contact.map')));
}

/** Fills the "Contact us" dialog with what the practice set (or says to look on its website). */
export function paintContact(dialog) {
  const c = contact();
  const parts = [
    el('h2', { id: 'contact-title' }, t('contact.title', { practice: practice ? practice.name : '' })),
    c.phone ? el('p', {}, t('contact.call'), ' ', phoneLink(c.phone)) : null,
    addressBlock(c.address),
    c.hours ? el('div', {}, el('h3', {}, t('contact.hours')), el('p', { className: 'hours' }, ...c.hours.split('\n').flatMap((line, i) => (i ? [el('br', {}), line] : [line])))) : null,
    !c.phone && !c.address && !c.hours ? el('p', {}, t('contact.none')) : null,
    el('div', { className: 'actions' }, el('button', { type: 'button', className: 'secondary', value: 'close', 'data-close': '' }, t('images.close'))),
  ];
  dialog.replaceChildren(...parts);
}
