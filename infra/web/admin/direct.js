// The Direct addresses patients may send their care summary to encrypted (Setup screen): each with
// its certificate's subject, expiry and SHA-256 fingerprint; admins add one by pasting the
// certificate and remove one. The certificate itself stays on the server.
import { $, api, busy, el, onSubmit, status } from '/lib.js';

let canEdit = false;

function item(r) {
  const li = el('li', {},
    el('strong', {}, r.address),
    el('span', { className: 'meta' }, `${r.subject} · valid until ${new Date(r.notAfter).toLocaleDateString()} · added by ${r.addedBy}`),
    el('span', { className: 'meta code' }, `SHA-256 ${r.fingerprint}`));
  if (canEdit) {
    const remove = el('button', { type: 'button', className: 'secondary', 'aria-label': `Remove ${r.address}` }, 'Remove');
    remove.addEventListener('click', () => busy(remove, async () => {
      const res = await api('DELETE', `/v1/admin/direct-recipients/${encodeURIComponent(r.address)}`);
      if (!res.ok && res.status !== 404) return status('direct-status', (res.data && res.data.detail) || 'It could not be removed.');
      status('direct-status', `${r.address} removed.`, true);
      return load(canEdit);
    }));
    li.append(remove);
  }
  return li;
}

export async function load(admin) {
  canEdit = admin;
  $('direct-form').hidden = !canEdit;
  const r = await api('GET', '/v1/admin/direct-recipients');
  if (!r.ok) return status('direct-status', 'The Direct addresses could not be loaded.');
  $('direct-list').replaceChildren(...r.data.items.map(item));
  if (!r.data.items.length) $('direct-list').append(el('li', { className: 'meta' }, 'None yet: patients can send their summary by ordinary email only.'));
  return undefined;
}

export function wireDirect() {
  onSubmit($('direct-form'), async () => {
    const r = await api('POST', '/v1/admin/direct-recipients', { certificate: $('direct-pem').value });
    if (!r.ok) return status('direct-status', (r.data && r.data.detail) || 'The certificate was not added.');
    $('direct-pem').value = '';
    status('direct-status', `Added: ${r.data.items.map((x) => x.address).join(', ')}.`, true);
    return load(canEdit);
  });
}
