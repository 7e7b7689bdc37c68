// Images and documents the practice shared, grouped by folder, newest first. An image shows its
// thumbnail and opens full size in the page; a document downloads under its own name. Links last
// five minutes and are asked for when opened.
import { api, busy, el, status } from '../lib.js';
import { t, formatDay, plural } from '../i18n.js';
import { empty, failure, forPatient, load, openFile, opener } from './common.js';

/** How recent an image or document is to count as new on Home. */
const NEW_DAYS = 30;

/** Home's to-do: images and documents the office shared in the last month, with Open. */
export async function todos({ patientId, open }) {
  const r = await api('GET', forPatient('/v1/images', patientId, { limit: 100 }));
  if (!r.ok) return [];
  const since = new Date(Date.now() - NEW_DAYS * 86_400_000).toISOString().slice(0, 10);
  const fresh = r.data.items.filter((i) => i.date >= since).length;
  return fresh ? [{ text: plural('home.newFiles', fresh), action: opener(t('home.open'), () => open('ModuleImages')) }] : [];
}

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
