// The practice system screen: sync keys, active first and newest first, each with when it was
// made and last used. A new key's secret is shown once, with a Copy button, and goes away when
// a key is revoked or staff log out.
import { $, api, copy, el, onSubmit, status } from '/lib.js';

const when = (unix) => new Date(unix * 1000).toLocaleString();

export function hideSecret() {
  $('sync-secret').hidden = true;
  $('sync-secret-value').textContent = '';
  $('sync-secret-id').textContent = '';
}

export async function loadSyncKeys(canEdit, onChange) {
  const r = await api('GET', '/v1/admin/sync-keys');
  const list = $('sync-keys');
  if (!r.ok) return status('sync-status', 'The keys could not be loaded.');
  list.replaceChildren(...r.data.keys.map((k) => el('li', {},
    el('strong', {}, k.label),
    el('span', { className: 'meta' }, 'Key id: ', el('code', {}, k.keyId)),
    el('span', { className: 'meta' }, `Made ${when(k.createdAt)} · last used ${k.lastUsedAt ? when(k.lastUsedAt) : 'never'}`),
    el('span', {}, k.revokedAt ? el('span', { className: 'badge off' }, `Revoked ${when(k.revokedAt)}`) : el('span', { className: 'badge' }, 'Active')),
    k.revokedAt ? null : revokeButton(k, canEdit, onChange))));
  if (!r.data.keys.length) list.replaceChildren(el('li', { className: 'meta' }, 'No keys yet.'));
  return undefined;
}

function revokeButton(k, canEdit, onChange) {
  const b = el('button', { type: 'button', className: 'secondary', 'aria-label': 'Revoke ' + k.label, disabled: !canEdit }, 'Revoke');
  b.addEventListener('click', async () => {
    if (!confirm(`Revoke "${k.label}"? The practice system using it will stop syncing at once.`)) return;
    const res = await api('DELETE', '/v1/admin/sync-keys/' + encodeURIComponent(k.keyId));
    status('sync-status', res.ok ? 'Key revoked.' : ((res.data && res.data.detail) || 'Not revoked.'), res.ok);
    if (res.ok) hideSecret();
    loadSyncKeys(canEdit, onChange);
    onChange();
  });
  return b;
}

export function wireSyncKeys(canEdit, onChange) {
  onSubmit($('sync-form'), async () => {
    const label = $('sync-label').value.trim();
    if (!label) return status('sync-status', 'Give the key a name first.');
    const r = await api('POST', '/v1/admin/sync-keys', { label });
    if (!r.ok) return status('sync-status', (r.data && r.data.detail) || 'No key was made.');
    $('sync-label').value = '';
    $('sync-secret-id').textContent = r.data.key.keyId;
    $('sync-secret-value').textContent = r.data.secret;
    $('sync-secret').hidden = false;
    status('sync-status', 'Key created.', true);
    await loadSyncKeys(canEdit(), onChange);
    return onChange();
  });
  $('sync-secret-copy').addEventListener('click', () => copy($('sync-secret-value').textContent, 'sync-status', 'Secret copied. Paste it into the practice system now.'));
}
