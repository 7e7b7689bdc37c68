// My account: how the patient signs in — change the password (every other device is signed out
// and a notice is emailed), two-step sign-in — and what this device remembers (the username at
// login, as an opt-in; the language, chosen in the header). Passwords are never kept in the page
// after a change.
import { api, el, passwordToggles, status } from './lib.js';
import { t } from './i18n.js';
import { renderSecurity } from './security.js';

/** The username this device remembers for the login form, when the patient asked it to. */
const REMEMBERED = 'portal.username';
export const rememberedUsername = () => localStorage.getItem(REMEMBERED) || '';
export function rememberUsername(username, remember) {
  if (remember) localStorage.setItem(REMEMBERED, username);
  else localStorage.removeItem(REMEMBERED);
}

/** Renders My account into `panel`; `problemText(r, fallbackKey)` words a refused change. */
export function renderMyAccount(panel, { me, problemText }) {
  const field = (id, key, autocomplete) => el('div', {},
    el('label', { htmlFor: id }, t(key)),
    el('div', { className: 'field' }, el('input', { type: 'password', id, autocomplete, maxLength: 128, required: true })));
  const said = el('p', { className: 'status', role: 'status', 'aria-live': 'polite' });
  const submit = el('button', { type: 'submit' }, t('password.submit'));
  const form = el('form', { noValidate: true },
    field('my-current', 'password.currentOwn', 'current-password'),
    field('my-new', 'password.new', 'new-password'),
    el('p', { className: 'hint' }, t('password.hint')),
    field('my-again', 'password.again', 'new-password'),
    submit, said);
  passwordToggles(form, () => ({ show: t('common.show'), hide: t('common.hide') }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const [current, next, again] = ['my-current', 'my-new', 'my-again'].map((id) => form.querySelector('#' + id).value);
    if (next !== again) return status(said, t('password.differ'));
    if (next.length < 8) return status(said, t('password.short'));
    status(said, '');
    submit.disabled = true;
    const r = await api('POST', '/v1/auth/password', { currentPassword: current, newPassword: next });
    submit.disabled = false;
    if (!r.ok) return status(said, problemText(r, 'error.generic'));
    for (const input of form.querySelectorAll('input')) input.value = '';
    return status(said, t('myaccount.passwordChanged'), true);
  });

  const remember = el('input', { type: 'checkbox', id: 'my-remember', checked: rememberedUsername() === me.username });
  remember.addEventListener('change', () => rememberUsername(me.username, remember.checked));

  const security = el('section', { className: 'part security' });
  renderSecurity(security);
  panel.replaceChildren(
    el('h2', {}, t('myaccount.title')),
    el('p', {}, t('myaccount.signedInAs', { username: me.username })),
    el('section', { className: 'part' }, el('h3', { id: 'my-password-title' }, t('myaccount.password')), form),
    security,
    el('section', { className: 'part' }, el('h3', {}, t('myaccount.device')),
      el('label', { className: 'check', htmlFor: 'my-remember' }, remember, ' ', t('login.remember')),
      el('p', { className: 'hint' }, t('myaccount.rememberHint'))));
}
