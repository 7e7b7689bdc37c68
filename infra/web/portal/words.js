// Plain words for what the practice's system writes in codes: a procedure's CDT code becomes
// its name in the page's language ("D2740" → "Crown — porcelain/ceramic"), a recall type its
// visit ("Prophy" → "Cleaning"), and the codes themselves go behind a "Details" toggle for
// whoever needs them (another dentist, an insurer). A code the catalogs do not name keeps the
// office's own words, without the code.
import { el } from './lib.js';
import { t } from './i18n.js';

const CDT = /\b(D\d{4})\b\s*/g;

/** The patient's words for a procedure: the catalog's name for its code (with the tooth number
 * the description gives, "#30"), else `description`. */
export function procedureName(code, description) {
  const named = code && t('cdt.' + code);
  if (!named || named === 'cdt.' + code) return capital(String(description || '').replace(CDT, '').trim());
  const tooth = /#\d{1,2}\b/.exec(String(description || ''));
  return tooth ? `${named} ${tooth[0]}` : named;
}

/** A list of procedures as the office wrote it ("D2950 core buildup, D2740 crown prep #30"), in
 * plain words ("Rebuilding the tooth under a crown, Crown — porcelain/ceramic #30"): each coded piece named from the
 * catalog, keeping its tooth number. */
export function procedureText(text) {
  return String(text || '').split(/,\s*/).map((piece) => {
    const m = /^(.*?)\b(D\d{4})\b\s*(.*)$/.exec(piece);
    if (!m) return piece;
    return m[1] + procedureName(m[2], m[3]);
  }).join(', ');
}

/** Whether a text names CDT codes (then its details show it as written). */
export const hasCodes = (text) => /\bD\d{4}\b/.test(String(text || ''));

/** A recall's visit in plain words ("Prophy" → "Cleaning"); a type the catalogs do not name as
 * the office wrote it. */
export function recallName(type) {
  const key = 'recall.' + String(type || '').toLowerCase().replace(/[^a-z0-9]/g, '');
  const named = t(key);
  return named === key ? String(type || '') : named;
}

/** The codes behind an item, shown only when asked for. */
export function codeDetails(...lines) {
  const shown = lines.filter(Boolean);
  if (!shown.length) return null;
  return el('details', { className: 'codes' }, el('summary', {}, t('words.details')), ...shown.map((line) => el('p', {}, line)));
}

function capital(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}
