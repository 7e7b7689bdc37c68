// The independent check of the portal's C-CDA documents: for each `*.xml` in the folder given
// (written by the Rust suite's `every_demo_patients_document_carries_their_codes`), libxml must
// find it well-formed, the US Realm Header and CCD template ids (R2.1) must be there, and
// @amida-tech/blue-button must find every problem, medication, allergy and immunization of the
// matching `*.expected.json` with its code and name. Exits non-zero on the first document that
// fails, naming what is missing.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const bb = require('@amida-tech/blue-button');
const libxmljs = require('libxmljs');

const dir = process.argv[2];
if (!dir) throw new Error('usage: node check.mjs FOLDER');
const files = readdirSync(dir).filter((f) => f.endsWith('.xml')).sort();
if (!files.length) throw new Error(`no documents in ${dir}`);

// Where blue-button puts each kind's coded product.
const FOUND = {
  problems: (d) => (d.problems || []).map((p) => p.problem.code),
  medications: (d) => (d.medications || []).map((m) => m.product.product),
  allergies: (d) => (d.allergies || []).map((a) => a.observation.allergen || a.observation.allergen_code || a.observation.intolerance),
  immunizations: (d) => (d.immunizations || []).map((i) => i.product.product),
};

let checked = 0;
for (const file of files) {
  const xml = readFileSync(join(dir, file), 'utf8');
  const doc = libxmljs.parseXml(xml);
  if (doc.errors.length) throw new Error(`${file}: not well-formed: ${doc.errors[0].message}`);
  const ns = { h: 'urn:hl7-org:v3' };
  for (const root of ['2.16.840.1.113883.10.20.22.1.1', '2.16.840.1.113883.10.20.22.1.2']) {
    if (!doc.get(`/h:ClinicalDocument/h:templateId[@root='${root}'][@extension='2015-08-01']`, ns)) throw new Error(`${file}: template ${root} missing`);
  }
  const parsed = bb.parse(xml);
  const expected = JSON.parse(readFileSync(join(dir, file.replace(/\.xml$/, '.expected.json')), 'utf8'));
  for (const [kind, wanted] of Object.entries(expected)) {
    const found = FOUND[kind](parsed.data).filter(Boolean);
    for (const w of wanted) {
      const hit = found.find((c) => c.code === w.code);
      if (!hit) throw new Error(`${file}: ${kind} ${w.code} (${w.name}) not found by blue-button; found ${JSON.stringify(found)}`);
      if (hit.name !== w.name) throw new Error(`${file}: ${kind} ${w.code} named '${hit.name}', expected '${w.name}'`);
    }
    if (found.length < wanted.length) throw new Error(`${file}: ${kind}: ${found.length} found, ${wanted.length} synced`);
  }
  checked += 1;
}
console.log(`${checked} C-CDA documents: well-formed, R2.1 CCD templates, every synced problem, medication, allergy and immunization found by blue-button with its code and name`);
