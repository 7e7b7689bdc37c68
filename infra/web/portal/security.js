// The patient's two-step sign-in with an authenticator app, on My account. Turning
// it on shows a QR code (drawn here from the API's module rows) and the key, asks for the app's
// first code, then shows the ten recovery codes once. Turning it off asks for the password again
// (a session alone may not take the second factor away). Nothing of it is kept in the browser.
import { api, el, qrImage } from './lib.js';
import { t } from './i18n.js';

/** Renders the card into `card` (an element it owns). */
export async function renderSecurity(card) {
  const r = await api('GET', '/v1/auth/mfa');
  if (!r.ok) return card.replaceChildren();
  const note = el('p', { className: 'status', role: 'status', 'aria-live': 'polite' });
  const title = el('h3', {}, t('security.title'));
  if (r.data.enabled) {
    const off = el('button', { type: 'button', className: 'secondary' }, t('security.turnOff'));
    off.addEventListener('click', () => confirmOff(card, note));
    return card.replaceChildren(title, el('p', {}, t('security.on', { left: r.data.recoveryCodesLeft })), off, note);
  }
  const on = el('button', { type: 'button', className: 'secondary' }, t('security.turnOn'));
  on.addEventListener('click', () => enrol(card, note));
  return card.replaceChildren(title, el('p', {}, t('security.off')), on, note);
}

function confirmOff(card, note) {
  const input = el('input', { type: 'password', id: 'mfa-off-password', autocomplete: 'current-password' });
  const form = el('form', { className: 'row', noValidate: true },
    el('div', {}, el('label', { htmlFor: 'mfa-off-password' }, t('security.offPassword')), input),
    el('button', { type: 'submit' }, t('security.offConfirm')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const done = await api('DELETE', '/v1/auth/mfa', { password: input.value });
    if (!done.ok) {
      const code = done.data && done.data.code;
      if (code === 'reauthentication_failed') note.textContent = t('security.offWrong');
      else if (code === 'too_many_attempts') note.textContent = t('security.offTooMany');
      else showProblem(note, done);
      return input.focus();
    }
    await renderSecurity(card);
    return card.querySelector('.status').replaceChildren(t('security.offDone'));
  });
  card.replaceChildren(el('h3', {}, t('security.title')), el('p', {}, t('security.offAsk')), form, note);
  return input.focus();
}

function showProblem(note, r) {
  note.textContent = t(r.status === 0 ? 'error.network' : 'error.generic');
}

async function enrol(card, note) {
  const r = await api('POST', '/v1/auth/mfa/enrol');
  if (!r.ok) return showProblem(note, r);
  const input = el('input', { type: 'text', id: 'mfa-code', inputMode: 'numeric', autocomplete: 'one-time-code', maxLength: 6 });
  const form = el('form', { className: 'row', noValidate: true },
    el('div', {}, el('label', { htmlFor: 'mfa-code' }, t('security.code')), input),
    el('button', { type: 'submit' }, t('security.confirm')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const done = await api('POST', '/v1/auth/mfa/confirm', { code: input.value.trim() });
    if (!done.ok) {
      note.textContent = done.data && done.data.code === 'totp_code_wrong' ? t('security.wrong') : t('error.generic');
      return input.focus();
    }
    return showCodes(card, done.data.recoveryCodes);
  });
  card.replaceChildren(
    el('h3', {}, t('security.title')),
    el('p', {}, t('security.scan')),
    el('div', { className: 'qr' }, qrImage(r.data.qr, t('security.qr'))),
    el('p', {}, `${t('security.key')}: `, el('code', {}, r.data.secret)),
    form,
    note,
  );
  return input.focus();
}

function showCodes(card, codes) {
  const saved = el('button', { type: 'button' }, t('security.saved'));
  saved.addEventListener('click', () => renderSecurity(card));
  card.replaceChildren(
    el('h3', {}, t('security.title')),
    el('p', {}, t('security.codes')),
    el('ul', { className: 'codes' }, codes.map((c) => el('li', {}, el('code', {}, c)))),
    saved,
  );
  saved.focus();
}
