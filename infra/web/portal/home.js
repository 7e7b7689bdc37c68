// Home: what needs doing first — an appointment to confirm (confirmed right here), an amount due
// with Pay, unread messages, a due recall to book, new documents — for every person whose records
// the viewer may see, each saying whose it is; then a card per feature.
// Each feature module answers its own to-dos (`todos(ctx)`: [{ text, action }]), asked for every
// person at once; one that cannot answer leaves its to-dos out rather than hold Home up.
import { el } from './lib.js';
import { t } from './i18n.js';

/** Renders Home into `panel`. `open(key, patientId)` opens a feature's view for that person;
 * `slug(key)` is a view's address. */
export async function renderHome(panel, { me, open, slug }) {
  const features = me.features;
  const todo = el('section', { className: 'todo', 'aria-labelledby': 'todo-title', 'aria-busy': 'true' },
    el('h3', { id: 'todo-title' }, t('home.todo')),
    el('p', { className: 'loading' }, el('span', { className: 'spinner', 'aria-hidden': 'true' }), t('common.loading')));
  if (!features.length) return panel.replaceChildren(el('p', {}, t('home.none')));
  const cards = el('ul', { className: 'dashboard', 'aria-label': t('home.features') }, features.map((f) => {
    const label = t(`feature.${f.key}.label`);
    return el('li', { className: 'card', 'data-feature': f.key },
      el('h3', {}, label),
      el('p', {}, t(`feature.${f.key}.intro`)),
      f.available ? null : el('p', { className: 'badge' }, t('feature.coming')),
      el('a', { className: 'button secondary', href: '#/' + slug(f.key), 'aria-label': `${t('home.open')}: ${label}` }, t('home.open')));
  }));
  panel.replaceChildren(todo, cards);

  const modules = await Promise.all(features.filter((f) => f.available).map((f) => import(`./features/${f.key}.js`)));
  const again = () => renderHome(panel, { me, open, slug });
  const people = await Promise.all(me.family.map(async (member) => {
    const ctx = { me, patientId: member.patientId, open: (key) => open(key, member.patientId), again };
    const lists = await Promise.all(modules.filter((m) => m.todos).map((m) => m.todos(ctx).catch(() => [])));
    return { member, items: lists.flat() };
  }));
  if (!panel.isConnected || !todo.isConnected) return undefined;
  todo.removeAttribute('aria-busy');
  const items = people.flatMap(({ member, items: list }) => list.map((item) => el('li', { className: 'action' },
    member.relationship === 'self' ? null : el('span', { className: 'badge whose' }, t('home.for', { name: member.name })),
    el('span', {}, item.text),
    item.action)));
  return todo.replaceChildren(todo.firstChild, items.length ? el('ul', { className: 'items todos' }, items) : el('p', { className: 'empty' }, t('home.nothingToDo')));
}
