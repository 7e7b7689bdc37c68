// The patient page's language: English or Spanish, from the choice made in the switcher (kept on
// this device: it is not health data), else the language a link from the portal's email names
// (`?lang=es`), else the patient's preferred language from the practice's records, else the
// browser's. Every patient-facing string goes through t();
// dates, times and money through Intl in the same language.
import en from './i18n/en.js';
import es from './i18n/es.js';

export const CATALOGS = { en, es };
export const LANGUAGES = [{ code: 'en', name: 'English' }, { code: 'es', name: 'Español' }];
const CHOSEN = 'portal.language';
/** The formats each language uses: the practice's patients are in the US, so Spanish is US
 * Spanish ($1,200.00, 12-hour time: 12:31 p. m.). */
const FORMATS = { en: 'en-US', es: 'es-US' };

let current = 'en';

/** The supported language a tag (`es-MX`, `en`) asks for, or null. */
function supported(tag) {
  const base = String(tag || '').toLowerCase().split('-')[0];
  return base in CATALOGS ? base : null;
}

/** Picks the language: the device's explicit choice, else the link's, else `preferred`, else the
 * browser's. */
export function chooseLanguage(preferred) {
  const chosen = supported(localStorage.getItem(CHOSEN));
  const linked = supported(new URLSearchParams(location.search).get('lang'));
  const browser = (navigator.languages || [navigator.language]).map(supported).find(Boolean);
  current = chosen || linked || supported(preferred) || browser || 'en';
  document.documentElement.lang = current;
  return current;
}

/** The switcher's choice: used from now on, on this device. */
export function setLanguage(code) {
  current = supported(code) || 'en';
  localStorage.setItem(CHOSEN, current);
  document.documentElement.lang = current;
}

export const language = () => current;

/** The text for `key`, with `{name}` placeholders filled from `vars`. */
export function t(key, vars) {
  const text = CATALOGS[current][key] ?? CATALOGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (vars && name in vars ? String(vars[name]) : m));
}

/** The text for a count: `key.one` or `key.other` as the language's plural rules say, with {n}. */
export function plural(key, n, vars) {
  return t(`${key}.${new Intl.PluralRules(FORMATS[current]).select(n) === 'one' ? 'one' : 'other'}`, { n, ...vars });
}

/** Fills every element with data-i18n under `root` (its text) from the catalog. */
export function translate(root) {
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
}

export const formatDate = (d, style = 'long') => new Intl.DateTimeFormat(FORMATS[current], { dateStyle: style }).format(d);
export const formatDateTime = (d, timeZone) =>
  new Intl.DateTimeFormat(FORMATS[current], { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(d);
/** Money arrives as integer cents; it is formatted only here. */
export const formatMoney = (cents, currency = 'USD') =>
  new Intl.NumberFormat(FORMATS[current], { style: 'currency', currency }).format(cents / 100);
/** A calendar date as the practice's system sent it (`YYYY-MM-DD`), whatever the browser's zone. */
export const formatDay = (ymd, style = 'medium') =>
  new Intl.DateTimeFormat(FORMATS[current], { dateStyle: style, timeZone: 'UTC' }).format(new Date(`${ymd}T00:00:00Z`));
/** An appointment time in the practice's time zone: the wall-clock time its system sent (RFC 3339
 * with the practice's offset), not converted to wherever the browser is. */
export function formatPracticeTime(rfc3339, style = { dateStyle: 'full', timeStyle: 'short' }) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(rfc3339 || '');
  if (!m) return rfc3339 || '';
  const wall = new Date(Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5]));
  return new Intl.DateTimeFormat(FORMATS[current], { ...style, timeZone: 'UTC' }).format(wall);
}
