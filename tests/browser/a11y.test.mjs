// Accessibility: axe-core (the engine browsers' audit tools use) on every screen of both pages,
// in Debian's Chromium. Serious and critical violations fail the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BASE, launch, practice, staffLogin } from './helpers.mjs';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const hillcrest = practice('hillcrest');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Runs axe in the page (evaluated through the DevTools protocol, so the page's CSP stays on). */
async function audit(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), [], `${name}`);
}

test('patient and staff screens have no serious accessibility violations', async () => {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${BASE}/?practice=hillcrest`);
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await audit(page, 'patient login');
  const patient = hillcrest.patients.find((p) => !p.temporary);
  await page.getByLabel('Username').fill(patient.username);
  await page.getByLabel('Password', { exact: true }).fill(patient.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#home-view').waitFor({ state: 'visible' });
  await audit(page, 'patient home');

  await page.goto(`${BASE}/admin/?practice=hillcrest`);
  await page.getByRole('heading', { name: 'Staff log in' }).waitFor();
  await audit(page, 'staff login');
  await staffLogin(page, hillcrest);
  await page.getByRole('heading', { name: 'Portal features' }).waitFor();
  await page.getByRole('row', { name: /Demo practice server/ }).waitFor();
  await audit(page, 'staff settings');
});
