// Images and documents the practice shared, grouped by folder, newest first. An image shows its
// thumbnail and opens in a full-screen viewer (zoom, previous and next, download); a document
// downloads under its own name. Links last five minutes and are asked for when opened.
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
  const folders = new Map();
  for (const item of items) folders.set(item.folder, [...(folders.get(item.folder) || []), item]);
  // The viewer steps through the images in the order the gallery shows them.
  const images = [...folders.values()].flat().filter((i) => i.contentType.startsWith('image/'));
  const viewer = new Viewer(images, patientId);
  panel.replaceChildren(
    el('h2', {}, t('feature.ModuleImages.label')),
    ...(items.length ? [...folders].map(([name, list]) => el('section', { className: 'part' },
      el('h3', {}, name),
      el('ul', { className: 'gallery' }, list.map((item) => card(item, patientId, viewer))))) : [empty('images.empty')]),
    viewer.dialog);
}

function card(item, patientId, viewer) {
  const said = el('p', { className: 'status', role: 'status' });
  const isImage = item.contentType.startsWith('image/');
  const open = el('button', { type: 'button', className: 'secondary', 'aria-label': `${t(isImage ? 'images.view' : 'common.download')}: ${item.title}` },
    t(isImage ? 'images.view' : 'common.download'));
  const path = forPatient(`/v1/images/${encodeURIComponent(item.id)}/file`, patientId);
  open.addEventListener('click', () => busy(open, async () => {
    if (!isImage) return status(said, await openFile(path));
    return status(said, await viewer.show(item, open));
  }));
  return el('li', { className: 'card' },
    item.thumbnail ? el('img', { src: item.thumbnail, alt: '', className: 'thumb' }) : el('div', { className: 'thumb doc', 'aria-hidden': 'true' }, 'PDF'),
    el('strong', {}, item.title),
    el('span', { className: 'meta' }, formatDay(item.date)),
    open, said);
}

/** The full-screen viewer: one image at a time (its short-lived link asked for when shown), zoom
 * in and out, previous and next, download; Escape or Close returns to the gallery, focus back on
 * the button that opened it. */
class Viewer {
  constructor(images, patientId) {
    this.images = images;
    this.patientId = patientId;
    this.zoom = 1;
    this.img = el('img', { alt: '' });
    this.caption = el('h3', { id: 'viewer-title' });
    this.said = el('p', { className: 'status', role: 'status' });
    this.download = el('a', { className: 'button secondary', download: '' }, t('common.download'));
    const button = (key, act, extra = {}) => {
      const b = el('button', { type: 'button', className: 'secondary', ...extra }, t(key));
      b.addEventListener('click', act);
      return b;
    };
    // Keyboard users scroll a zoomed image from the stage itself (arrows scroll there, not step).
    this.stage = el('div', { className: 'viewer-stage', tabIndex: 0, role: 'group', 'aria-label': t('images.stage') }, this.img);
    this.prev = button('images.previous', () => this.step(-1));
    this.next = button('images.next', () => this.step(1));
    this.dialog = el('dialog', { className: 'image-viewer', 'aria-labelledby': 'viewer-title' },
      el('div', { className: 'viewer-bar' }, this.caption,
        el('div', { className: 'actions' },
          button('images.zoomOut', () => this.setZoom(this.zoom / 1.5), { 'aria-label': t('images.zoomOut') }),
          button('images.zoomIn', () => this.setZoom(this.zoom * 1.5), { 'aria-label': t('images.zoomIn') }),
          this.prev, this.next, this.download, button('images.close', () => this.dialog.close()))),
      this.stage, this.said);
    this.dialog.addEventListener('close', () => {
      this.img.removeAttribute('src');
      if (this.opener) this.opener.focus();
    });
    this.dialog.addEventListener('keydown', (e) => {
      if (e.target === this.stage) return;
      if (e.key === 'ArrowLeft') this.step(-1);
      if (e.key === 'ArrowRight') this.step(1);
    });
  }

  /** Shows `item`; answers an error message (the link could not be had) or null. */
  async show(item, opener) {
    const r = await api('GET', forPatient(`/v1/images/${encodeURIComponent(item.id)}/file`, this.patientId));
    if (!r.ok) return failure(r);
    if (opener) this.opener = opener;
    this.at = this.images.indexOf(item);
    this.img.src = r.data.url;
    this.img.alt = item.title;
    this.caption.textContent = item.title;
    this.download.href = r.data.url;
    this.prev.disabled = this.at <= 0;
    this.next.disabled = this.at >= this.images.length - 1;
    this.setZoom(1);
    status(this.said, '');
    if (!this.dialog.open) this.dialog.showModal();
    return null;
  }

  async step(by) {
    const item = this.images[this.at + by];
    if (!item) return;
    const problem = await this.show(item);
    if (problem) status(this.said, problem);
  }

  setZoom(zoom) {
    this.zoom = Math.min(8, Math.max(1, zoom));
    this.img.style.width = `${this.zoom * 100}%`;
  }
}
