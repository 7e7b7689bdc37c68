// What a feature's tab shows until its module is deployed: what it will do, and that it is coming.
import { el } from '../lib.js';
import { t } from '../i18n.js';

export function comingSoon(panel, key) {
  const label = t(`feature.${key}.label`);
  panel.replaceChildren(
    el('h2', {}, label),
    el('p', {}, t(`feature.${key}.intro`)),
    el('p', { className: 'notice' }, el('strong', {}, t('feature.coming') + '. '), t('feature.comingText', { feature: label })),
  );
}
