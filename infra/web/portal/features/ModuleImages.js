// Images and documents the practice shared, grouped by folder, newest first. An image shows its
// thumbnail and opens full size in the page; a document downloads under its own name. Links last
// five minutes and are asked for when opened.
import { api, busy, el, status } from '../lib.js';
import { t, formatDay } from '../i18n.js';
import { empty, failure, forPatient, load, openFile } from './common.js';

export async function render(panel, { patientId }) {
  const data = await load(panel, [forPatient('/v1/images', patientId, { limit: 100 })]);
  if (!data) return;
  const items = data[0].items;
  const viewer = el('figure', { className: 'viewer', hidden: true, tabIndex: -1 });
  const folders = new Map();
  for (const item of items) folders.set(item.folder, [...(folders.get(item.folder) || []), item]);
  panel.replaceChildren(
    el('h2', {}, t('feature.ModuleImages.label')),
    ...(items.length ? [...folders].map(([name, list]) => el('section', { className: 'part' },
      el('h3', {}, name),
      el('ul', { className: 'gallery' }, list.map((item) => card(item, patientId, viewer))))) : [empty('images.empty')]),
    viewer);
}

function card(item, patientId, viewer) {
  const said = el('p', { className: 'status', role: 'status' });
  const isImage = item.contentType.startsWith('image/');
  const open = el('button', { type: 'button', className: 'secondary', 'aria-label': `${t(isImage ? 'images.view' : 'common.download')}: ${item.title}` },
    t(isImage ? 'images.view' : 'common.download'));
  const path = forPatient(`/v1/images/${encodeURIComponent(item.id)}/file`, patientId);
  open.addEventListener('click', () => busy(open, async () => {
    if (!isImage) return status(said, await openFile(path));
    const r = await api('GET', path);
    if (!r.ok) return status(said, failure(r));
    const close = el('button', { type: 'button', className: 'secondary' }, t('images.close'));
    close.addEventListener('click', () => { viewer.hidden = true; viewer.replaceChildren(); open.focus(); });
    viewer.replaceChildren(el('img', { src: r.data.url, alt: item.title }), el('figcaption', {}, item.title, ' ', close));
    viewer.hidden = false;
    viewer.focus();
  }));
  return el('li', { className: 'card' },
    item.thumbnail ? el('img', { src: item.thumbnail, alt: '', className: 'thumb' }) : el('div', { className: 'thumb doc', 'aria-hidden': 'true' }, 'PDF'),
    el('strong', {}, item.title),
    el('span', { className: 'meta' }, formatDay(item.date)),
    open, said);
}
