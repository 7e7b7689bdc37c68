// The code systems screen in Debian's Chromium: the five systems not yet imported, the demo
// releases found in the practice's release location; a big release (made here, in the exact RF2
// format, put in the folder by hand) imported with the live progress bar moving to "Imported";
// a release with a broken line reported by file, line and reason, the version in use staying;
// an import cancelled midway. axe-clean.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VIEWPORTS, audit, launch, practice, screen, staffLogin } from './helpers.mjs';

const lakeside = practice('lakeside');
const RELEASES = join(process.env.PORTAL_DATA_DIR, 'blobs/lakeside/code-systems/releases');

// Verhoeff, as SNOMED CT ids end.
const D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1], [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]];
const P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2], [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
  [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1], [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]];
const INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];
function sctid(item, partition) {
  const body = `${item}${partition}`;
  let c = 0;
  [...body].reverse().forEach((d, i) => { c = D[c][P[(i + 1) % 8][Number(d)]]; });
  return body + INV[c];
}

/**
 * A SNOMED CT RF2 release of `concepts` concepts (a synonym and an FSN each, both US preferred
 * in the English language refset), in the folder.
 */
function bigRelease(name, concepts) {
  const dir = join(RELEASES, name, 'Snapshot/Terminology');
  const refsets = join(RELEASES, name, 'Snapshot/Refset/Language');
  mkdirSync(dir, { recursive: true });
  mkdirSync(refsets, { recursive: true });
  const c = ['id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId'];
  const d = ['id\teffectiveTime\tactive\tmoduleId\tconceptId\tlanguageCode\ttypeId\tterm\tcaseSignificanceId'];
  const l = ['id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId\tacceptabilityId'];
  const uuid = (n) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
  for (let n = 0; n < concepts; n += 1) {
    const id = sctid(100000 + n, '00');
    const [synonym, fsn] = [sctid(200000 + 2 * n, '01'), sctid(200001 + 2 * n, '01')];
    c.push(`${id}\t20020131\t1\t900000000000207008\t900000000000074008`);
    d.push(`${synonym}\t20170731\t1\t900000000000207008\t${id}\ten\t900000000000013009\tGenerated finding ${n}\t900000000000448009`);
    d.push(`${fsn}\t20170731\t1\t900000000000207008\t${id}\ten\t900000000000003001\tGenerated finding ${n} (finding)\t900000000000448009`);
    for (const [i, description] of [synonym, fsn].entries()) {
      l.push(`${uuid(2 * n + i)}\t20170731\t1\t900000000000207008\t900000000000509007\t${description}\t900000000000548007`);
    }
  }
  writeFileSync(join(dir, 'sct2_Concept_Snapshot_INT_20250101.txt'), c.join('\r\n') + '\r\n');
  writeFileSync(join(dir, 'sct2_Description_Snapshot-en_INT_20250101.txt'), d.join('\r\n') + '\r\n');
  writeFileSync(join(refsets, 'der2_cRefset_LanguageSnapshot-en_INT_20250101.txt'), l.join('\r\n') + '\r\n');
  return (c.length - 1) + (d.length - 1) + (l.length - 1);
}

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('staff import code systems with a live progress bar, see failures and cancel', async () => {
  const rows = bigRelease('SnomedCT_Generated', 120000);
  const broken = join(RELEASES, 'cvx-broken');
  mkdirSync(broken, { recursive: true });
  writeFileSync(join(broken, 'cvx.txt'), '140|Influenza, seasonal|Influenza||Active|141|False|2016/02/09\r\n62|HPV, quadrivalent|HPV||Inactive|61|False|2017/05/25\r\nfour|no code|x||Active|1|False|2010/05/28\r\n');
  const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop });
  const page = await ctx.newPage();
  await staffLogin(page, lakeside);
  await page.getByRole('link', { name: 'Code systems' }).click();
  const systems = page.getByRole('list', { name: 'Code systems' });
  await systems.getByText('SNOMED CT').waitFor();
  const releases = page.getByRole('list', { name: 'Releases' });
  await releases.getByText('RxNorm_full_11032025').waitFor();
  assert.ok(await page.locator('#releases-location').textContent(), 'lakeside/code-systems/releases/');
  await screen(page, 'staff-code-systems');
  await audit(page, 'staff code systems');

  // The big one: the bar moves, then it is the version in use.
  await page.getByRole('button', { name: 'Import SnomedCT_Generated' }).click();
  const bar = page.locator('#imports progress');
  await bar.waitFor();
  await page.locator('#imports').getByText(/of [\d,.\s]+ lines read/).waitFor();
  await audit(page, 'code systems importing');
  const done = page.locator('#imports').getByText(/^Imported: [\d,]+ names and concepts in use, from [\d,]+ lines/);
  await done.waitFor({ timeout: 120_000 });
  assert.equal(await bar.getAttribute('value'), String(rows));
  // The count said when it finished is the count of the version in use.
  const kept = (await done.textContent()).match(/^Imported: ([\d,]+) names/)[1];
  await systems.getByText(new RegExp(`SnomedCT_Generated · ${kept} names and concepts · imported`)).waitFor();

  // A broken line: file, line and reason; the version in use stays (none for CVX yet).
  await page.getByRole('button', { name: 'Import cvx-broken' }).click();
  await page.locator('#imports').getByText('The import failed: cvx.txt, line 3: \'four\' is not a CVX code (1–3 digits). The version in use stays.').waitFor();
  await systems.getByText(/Last import failed/).waitFor();
  await screen(page, 'staff-code-systems-failed');

  // The same big release again, cancelled midway: the version in use stays.
  await page.reload();
  await page.getByRole('button', { name: 'Import SnomedCT_Generated' }).click();
  await page.getByRole('button', { name: 'Cancel import' }).click();
  await page.locator('#imports').getByText('Cancelled. The version in use stays.').waitFor();
  await systems.getByText(/SnomedCT_Generated · [\d,]+ names and concepts/).waitFor();
  await systems.getByText('Last import cancelled').waitFor();

  // The demo's small CVX release, for the care summary.
  await page.getByRole('button', { name: 'Import cvx-20251001' }).click();
  const cvx = page.locator('#imports').getByText(/^Imported: \d+ names and concepts in use, from 14 lines \(inactive ones are left out\)\. The care summary uses it now\.$/);
  await cvx.waitFor();
  const cvxKept = (await cvx.textContent()).match(/^Imported: (\d+) names/)[1];
  await systems.getByText(new RegExp(`cvx-20251001 · ${cvxKept} names and concepts · imported`)).waitFor();

  // LOINC's table (a record in it spans two lines) and the practice's own CDT list.
  for (const [release, lines] of [['Loinc_2.80', 10], ['cdt-2026', 14]]) {
    await page.getByRole('button', { name: `Import ${release}` }).click();
    const block = page.locator('#imports .import', { hasText: release });
    await block.getByText(new RegExp(`^Imported: ${lines} names and concepts in use, from ${lines} lines`)).waitFor();
    await systems.getByText(new RegExp(`${release} · ${lines} names and concepts · imported`)).waitFor();
  }
  // One block an import, however the list and the progress polls interleave.
  for (const release of ['cvx-20251001', 'Loinc_2.80', 'cdt-2026']) assert.equal(await page.locator('#imports .import', { hasText: release }).count(), 1, release);
  await ctx.close();
});
