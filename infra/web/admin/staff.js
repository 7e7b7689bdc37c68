// The staff users screen (admins): everyone on the staff with their role, whether they may log in
// and whether their authenticator is set up; add a user (the temporary password is shown once),
// change a role, disable or enable, and set up an authenticator: the QR code is drawn here from
// the API's module rows, so the secret never leaves the portal. Secrets are cleared when the
// screen is left.
import { $, api, el, onSubmit, qrImage, status } from '/lib.js';

const ROLE = { admin: 'Admin', 'front-desk': 'Front desk' };
let enrolling = null;

const problem = (r, fallback) => (r.status === 0 ? 'The portal could not be reached.' : (r.data && r.data.detail) || fallback);

/** Hides the one-time secrets (a new user's password, an authenticator key). */
export function hideSecrets() {
  enrolling = null;
  for (const id of ['staff-new-password', 'staff-new-name', 'staff-secret', 'staff-enrol-name']) $(id).textContent = '';
  $('staff-qr').replaceChildren();
  $('staff-new').hidden = true;
  $('staff-enrol').hidden = true;
}

export async function load() {
  const r = await api('GET', '/v1/admin/staff');
  if (!r.ok) return status('staff-status', problem(r, 'The staff users could not be loaded.'));
  $('staff-items').replaceChildren(...r.data.items.map(row));
  return undefined;
}

function row(u) {
  const actions = el('span', { className: 'row' });
  const other = u.role === 'admin' ? 'front-desk' : 'admin';
  actions.append(
    button(`Make ${ROLE[other].toLowerCase()}`, u, () => change(u, { role: other })),
    button(u.disabled ? 'Enable' : 'Disable', u, () => change(u, { disabled: !u.disabled })),
    button(u.totpEnrolled ? 'Reset authenticator' : 'Set up authenticator', u, () => enrol(u)),
  );
  return el('li', {},
    el('strong', {}, u.displayName || u.username),
    el('span', { className: 'meta' }, `Username ${u.username} · ${ROLE[u.role] || u.role}`),
    el('span', {},
      el('span', { className: 'badge' + (u.disabled ? ' off' : '') }, u.disabled ? 'Disabled' : 'Active'), ' ',
      el('span', { className: 'badge' + (u.totpEnrolled ? '' : ' bad') }, u.totpEnrolled ? 'Authenticator set up' : 'No authenticator yet'), ' ',
      u.mustChangePassword ? el('span', { className: 'badge off' }, 'Temporary password') : null),
    actions);
}

function button(label, u, work) {
  const b = el('button', { type: 'button', className: 'secondary', 'aria-label': `${label}: ${u.displayName || u.username}` }, label);
  b.addEventListener('click', work);
  return b;
}

async function change(u, body) {
  if (body.disabled && !confirm(`Disable ${u.displayName}? They are logged out at once.`)) return undefined;
  const r = await api('PUT', `/v1/admin/staff/${encodeURIComponent(u.username)}`, body);
  if (!r.ok) return status('staff-status', problem(r, 'Not changed.'));
  status('staff-status', `${u.displayName}: ${body.role ? ROLE[body.role] : (body.disabled ? 'disabled' : 'enabled')}.`, true);
  return load();
}

async function enrol(u) {
  const r = await api('POST', `/v1/admin/staff/${encodeURIComponent(u.username)}/totp`);
  if (!r.ok) return status('staff-status', problem(r, 'The authenticator could not be set up.'));
  enrolling = u;
  $('staff-enrol-name').textContent = u.displayName || u.username;
  $('staff-qr').replaceChildren(qrImage(r.data.qr, 'QR code for the authenticator app'));
  $('staff-secret').textContent = r.data.secret;
  $('staff-code').value = '';
  $('staff-enrol').hidden = false;
  $('staff-code').focus();
  return undefined;
}

export function wireStaff() {
  onSubmit($('staff-form'), async () => {
    const body = { username: $('staff-username').value.trim(), displayName: $('staff-name').value.trim(), role: $('staff-role').value };
    if (!body.username || !body.displayName) return status('staff-status', 'Give a username and a name.');
    const r = await api('POST', '/v1/admin/staff', body);
    if (!r.ok) return status('staff-status', problem(r, 'No user was made.'));
    hideSecrets();
    $('staff-username').value = '';
    $('staff-name').value = '';
    $('staff-new-name').textContent = r.data.user.displayName;
    $('staff-new-password').textContent = r.data.temporaryPassword;
    $('staff-new').hidden = false;
    status('staff-status', `${r.data.user.displayName} added. Set up their authenticator next.`, true);
    await load();
    return enrol(r.data.user);
  });
  onSubmit($('staff-enrol-form'), async () => {
    const code = $('staff-code').value.trim();
    if (!/^\d{6}$/.test(code)) return status('staff-status', 'The code has 6 digits.');
    const r = await api('POST', `/v1/admin/staff/${encodeURIComponent(enrolling.username)}/totp/confirm`, { code });
    if (!r.ok) return status('staff-status', problem(r, 'Not confirmed.'));
    const name = enrolling.displayName || enrolling.username;
    $('staff-enrol').hidden = true;
    $('staff-qr').replaceChildren();
    $('staff-secret').textContent = '';
    enrolling = null;
    status('staff-status', `${name}'s authenticator is set up.`, true);
    return load();
  });
}
