// Accessibility: axe-core (the engine browsers' audit tools use) on every screen of both pages,
// the patient's in English and Spanish, at both viewports, in Debian's Chromium. Serious and
// critical violations fail the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, VIEWPORTS, audit, launch, openView, patientLogin, practice, staffLogin, viewNames } from './helpers.mjs';

const hillcrest = practice('hillcrest');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

for (const [size, viewport] of Object.entries(VIEWPORTS)) {
  for (const locale of ['en-US', 'es-ES']) {
    test(`${size}, ${locale}: patient screens have no serious accessibility violations`, async () => {
      const ctx = await browser.newContext({ viewport, locale });
      const page = await ctx.newPage();
      await page.goto(`${BASE}/p/hillcrest/`);
      await page.locator('#login-view').waitFor({ state: 'visible' });
      assert.equal(await page.evaluate(() => document.documentElement.lang), locale.slice(0, 2), 'the browser language is used');
      await audit(page, 'patient login');
      const patient = hillcrest.patients.find((p) => !p.temporary);
      await page.locator('#login-username').fill(patient.username);
      await page.locator('#login-password').fill(patient.password);
      await page.locator('#login-form button[type=submit]').click();
      await page.locator('#home-view').waitFor({ state: 'visible' });
      await audit(page, 'patient home');
      // Every feature tab, loaded (the modules and the ones still to come).
      const views = await viewNames(page);
      for (const name of views.slice(1)) {
        await openView(page, name);
        await page.locator('.panel:not([hidden]):not([aria-busy]) h2').waitFor();
        await audit(page, `patient tab ${name}`);
      }
      await page.goto(`${BASE}/p/nowhere/`);
      await page.locator('#unknown-view').waitFor({ state: 'visible' });
      await audit(page, 'unknown practice');
      await ctx.close();
    });
  }

  test(`${size}: staff screens have no serious accessibility violations`, async () => {
    const ctx = await browser.newContext({ viewport });
    const page = await ctx.newPage();
    await page.goto(`${BASE}/admin/`);
    await page.getByRole('heading', { name: 'Staff log in' }).waitFor();
    await audit(page, 'staff login');
    await staffLogin(page, hillcrest);
    await page.getByRole('heading', { name: 'Portal features' }).waitFor();
    await audit(page, 'staff setup');
    await page.getByRole('link', { name: 'Practice system' }).click();
    await page.locator('#sync-keys > li').first().waitFor();
    await audit(page, 'staff practice system');
    await page.getByRole('link', { name: 'Activity' }).click();
    await page.locator('#audit-entries > li').first().waitFor();
    await audit(page, 'staff activity');
    await ctx.close();
  });
}
