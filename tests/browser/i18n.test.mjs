// The patient page's two catalogs: the same keys, the same {placeholders} per key, and every key
// any of the page's scripts or pages asks for by name exists. No browser needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const WEB = new URL('../../infra/web/portal/', import.meta.url).pathname;
const en = (await import(join(WEB, 'i18n/en.js'))).default;
const es = (await import(join(WEB, 'i18n/es.js'))).default;
const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('English and Spanish have exactly the same keys', () => {
  const onlyEn = Object.keys(en).filter((k) => !(k in es));
  const onlyEs = Object.keys(es).filter((k) => !(k in en));
  assert.deepEqual({ onlyEn, onlyEs }, { onlyEn: [], onlyEs: [] });
});

test('each key has the same placeholders in both languages, and no empty text', () => {
  for (const k of Object.keys(en)) {
    assert.deepEqual(placeholders(es[k]), placeholders(en[k]), k);
    assert.ok(en[k].trim() && es[k].trim(), k);
  }
});

test('every key the page names exists', () => {
  // Every script and page of the patient site (the catalogs themselves aside), so a new file is
  // checked without being listed here.
  const pages = (dir) => readdirSync(join(WEB, dir)).filter((f) => /\.(js|html)$/.test(f)).map((f) => join(dir, f));
  const files = [...pages('.'), ...pages('features')];
  assert.ok(files.includes('security.js') && files.includes('features/ModuleWebMail.js'), files.join(' '));
  const used = new Set();
  for (const f of files) {
    const src = readFileSync(join(WEB, f), 'utf8');
    for (const m of src.matchAll(/(?:\bt\(\s*|data-i18n=)['"]([\w.]*\w)['"]/g)) used.add(m[1]);
  }
  assert.ok(used.size > 20, `found ${used.size} keys`);
  assert.deepEqual([...used].filter((k) => !(k in en)), []);
  // Keys built at run time: the care summary's sections and what it says about the patient.
  const care = ['problems', 'medications', 'allergies', 'immunizations', 'vitalSigns', 'results', 'procedures', 'planOfTreatment', 'encounters', 'careTeam', 'socialHistory', 'implantedDevices', 'goals', 'healthConcerns', 'insurance'].map((s) => `care.section.${s}`);
  care.push(...['female', 'male', 'other', 'unknown'].map((s) => `care.sex.${s}`), ...['female', 'male', 'unknown', 'declined'].map((s) => `care.birthSex.${s}`));
  care.push(...['1002-5', '2028-9', '2054-5', '2076-8', '2106-3'].map((c) => `care.race.${c}`), ...['2135-2', '2186-5'].map((c) => `care.ethnicity.${c}`));
  care.push(...['449868002', '428041000124106', '8517006', '266919005', '77176002', '266927001', '428071000124103', '428061000124105'].map((c) => `care.smoking.${c}`));
  care.push(...['oral', 'sublingual', 'buccal', 'dental', 'topical', 'inhalation', 'nasal', 'transdermal', 'intravenous', 'intramuscular', 'subcutaneous',
    'intradermal', 'infiltration', 'intragingival', 'periodontal', 'subgingival'].map((r) => `care.route.${r}`));
  care.push(...['primary', 'secondary', 'tertiary', 'rel.spouse', 'rel.child', 'rel.other-dependent'].map((c) => `care.coverage.${c}`));
  assert.deepEqual(care.filter((k) => !(k in en)), []);
  // Keys built at run time: the family relationships, and each feature's label and intro.
  for (const rel of ['self', 'minor', 'family']) assert.ok(en[`home.member.${rel}`], rel);
  for (const key of ['MakePayments', 'ModuleAccount', 'ModuleWebMail', 'ModuleCareSummary', 'ModuleImages', 'MakeAppointments', 'ModuleTreatmentPlan']) {
    assert.ok(en[`feature.${key}.label`] && en[`feature.${key}.intro`], key);
  }
});
