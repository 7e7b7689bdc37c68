// My account: how the office reaches the patient (email, mobile phone, whether to be emailed, the
// language of emails — a change goes to the practice and shows as waiting until its system updates
// the record), how the patient signs in — change the password (every other device is signed out
// and a notice is emailed), two-step sign-in — and what this device remembers (the username at
// login, as an opt-in; the language, chosen in the header). Passwords are never kept in the page
// after a change.
import { api, busy, el, passwordToggles, status } from './lib.js';
import { LANGUAGES, t } from './i18n.js';
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
  const contact = el('section', { className: 'part', 'aria-labelledby': 'my-contact-title' }, el('h3', { id: 'my-contact-title' }, t('myaccount.contact')));
  renderContact(contact, problemText);
  panel.replaceChildren(
    el('h2', {}, t('myaccount.title')),
    el('p', {}, t('myaccount.signedInAs', { username: me.username })),
    contact,
    el('section', { className: 'part' }, el('h3', { id: 'my-password-title' }, t('myaccount.password')), form),
    security,
    el('section', { className: 'part' }, el('h3', {}, t('myaccount.device')),
      el('label', { className: 'check', htmlFor: 'my-remember' }, remember, ' ', t('login.remember')),
      el('p', { className: 'hint' }, t('myaccount.rememberHint'))));
}

/** How the office reaches the patient: the practice's record, and a form to ask for a change. */
async function renderContact(box, problemText) {
  const title = box.firstChild;
  const r = await api('GET', '/v1/me/profile');
  if (!r.ok) return box.replaceChildren(title, el('p', { className: 'notice' }, problemText(r, 'error.generic')));
  const p = r.data;
  const email = el('input', { type: 'email', id: 'my-email', autocomplete: 'email', maxLength: 254, value: p.email || '' });
  const mobile = el('input', { type: 'tel', id: 'my-mobile', autocomplete: 'tel', maxLength: 40, value: p.mobilePhone || '' });
  const notices = el('input', { type: 'checkbox', id: 'my-notices', checked: p.emailNotices });
  const language = el('select', { id: 'my-language' }, LANGUAGES.map((l) => el('option', { value: l.code, lang: l.code, selected: l.code === p.preferredLanguage }, l.name)));
  const said = el('p', { className: 'status', role: 'status', 'aria-live': 'polite' });
  const save = el('button', { type: 'submit' }, t('myaccount.contactSave'));
  const waiting = el('p', { className: 'notice', hidden: true });
  const showPending = (pending) => {
    waiting.hidden = !pending;
    if (!pending) return;
    const parts = [
      pending.email ? `${t('myaccount.email')}: ${pending.email}` : null,
      pending.mobilePhone ? `${t('myaccount.mobile')}: ${pending.mobilePhone}` : null,
      pending.emailNotices === undefined ? null : t(pending.emailNotices ? 'myaccount.noticesOn' : 'myaccount.noticesOff'),
      pending.preferredLanguage ? `${t('myaccount.language')}: ${LANGUAGES.find((l) => l.code === pending.preferredLanguage).name}` : null,
    ].filter(Boolean);
    waiting.textContent = t('myaccount.pending', { changes: parts.join('; ') });
  };
  const form = el('form', { noValidate: true },
    el('label', { htmlFor: 'my-email' }, t('myaccount.email')), email,
    el('label', { htmlFor: 'my-mobile' }, t('myaccount.mobile')), mobile,
    el('label', { className: 'check', htmlFor: 'my-notices' }, notices, ' ', t('myaccount.notices')),
    el('label', { htmlFor: 'my-language' }, t('myaccount.language')), language,
    el('p', { className: 'hint' }, t('myaccount.contactHint')),
    save, said);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(save, async () => {
      const change = { emailNotices: notices.checked, preferredLanguage: language.value };
      if (email.value.trim()) change.email = email.value.trim();
      if (mobile.value.trim()) change.mobilePhone = mobile.value.trim();
      const res = await api('PUT', '/v1/me/profile', change);
      if (!res.ok) return status(said, res.data && res.data.code === 'phone_invalid' ? t('myaccount.phoneInvalid') : problemText(res, 'error.generic'));
      showPending(res.data.pending);
      return status(said, t(res.data.pending ? 'myaccount.contactSent' : 'myaccount.contactSame'), true);
    });
  });
  showPending(p.pending);
  return box.replaceChildren(title, waiting, form);
}
