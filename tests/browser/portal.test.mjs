// Browser test: Debian's Chromium driven by playwright-core against a running portal-local
// (PORTAL_URL, PORTAL_DATA_DIR set by tests/run). Staff untick ModuleWebMail in the admin page;
// the patient page stops showing it and the patient's WebMail request answers 403.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE, launch, practice, staffLogin } from './helpers.mjs';

const lakeside = practice('lakeside');
const SHOTS = process.env.PORTAL_SCREENSHOTS || tmpdir();

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function patientLogin(page, patient) {
  await page.goto(`${BASE}/?practice=lakeside`);
  await page.getByLabel('Username').fill(patient.username);
  await page.getByLabel('Password', { exact: true }).fill(patient.password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

async function tabNames(page) {
  await page.locator('#home-view').waitFor({ state: 'visible' });
  return page.getByRole('tab').allTextContents();
}

test('staff unticks ModuleWebMail: the patient page drops it and WebMail answers 403', async () => {
  const patientCtx = await browser.newContext();
  const patient = await patientCtx.newPage();
  await patientLogin(patient, lakeside.patients.find((p) => !p.temporary));
  assert.ok((await tabNames(patient)).includes('Messages'), 'WebMail tab shown while enabled');
  assert.notEqual(await patient.evaluate(() => fetch('/v1/webmail/messages').then((r) => r.status)), 403);
  // Nothing of the session is in browser storage: the cookie is HttpOnly.
  assert.equal(await patient.evaluate(() => document.cookie + localStorage.length + sessionStorage.length), '00');

  const staffCtx = await browser.newContext();
  const admin = await staffCtx.newPage();
  await staffLogin(admin, lakeside);
  const webmail = admin.getByLabel(/ModuleWebMail/);
  await webmail.waitFor();
  for (const key of ['MakePayments', 'ModuleAccount', 'ModuleWebMail', 'ModuleCareSummary', 'ModuleImages', 'MakeAppointments', 'ModuleTreatmentPlan']) {
    assert.ok(await admin.getByLabel(new RegExp(key)).isChecked(), `${key} starts enabled`);
  }
  await webmail.uncheck();
  await admin.getByRole('button', { name: 'Submit' }).click();
  await admin.getByText('Features saved.').waitFor();
  await admin.screenshot({ path: join(SHOTS, 'admin-settings.png'), fullPage: true });

  await patient.reload();
  const tabs = await tabNames(patient);
  assert.ok(!tabs.includes('Messages'), `WebMail tab gone, got ${tabs}`);
  assert.ok(tabs.includes('Account'));
  assert.equal(await patient.evaluate(() => fetch('/v1/webmail/messages').then((r) => r.status)), 403);
  await patient.screenshot({ path: join(SHOTS, 'patient-home.png'), fullPage: true });

  // The WebMail form says what is wrong before saving.
  await admin.getByLabel('Notification body').fill('No link in this body');
  await admin.getByText('The body must contain [URL].').waitFor();
  assert.ok(await admin.getByRole('button', { name: 'Save WebMail settings' }).isDisabled());
  await admin.getByLabel('Notification body').fill('A message from [PracticeName] is waiting: [URL]');
  await admin.getByRole('button', { name: 'Save WebMail settings' }).click();
  await admin.getByText('WebMail settings saved.').waitFor();

  // A sync key: the secret is shown once, the key listed without it, and it can be revoked.
  await admin.getByLabel('Name of the new key').fill('Front office server');
  await admin.getByRole('button', { name: 'Create key' }).click();
  await admin.getByText('Copy this secret now').waitFor();
  const secret = (await admin.locator('#sync-secret-value').textContent()).trim();
  assert.match(secret, /^[0-9a-f]{64}$/);
  const row = admin.getByRole('row', { name: /Front office server/ });
  await row.waitFor();
  assert.ok(!(await row.textContent()).includes(secret));
  admin.once('dialog', (d) => d.accept());
  await admin.getByRole('button', { name: 'Revoke Front office server' }).click();
  await admin.getByText('Key revoked.').waitFor();
  await admin.getByRole('row', { name: /revoked/ }).waitFor();

  // Logout ends the session for real.
  await admin.getByRole('button', { name: 'Log out' }).click();
  await admin.getByRole('heading', { name: 'Staff log in' }).waitFor();
  assert.equal(await admin.evaluate(() => fetch('/v1/admin/settings').then((r) => r.status)), 401);
  await patientCtx.close();
  await staffCtx.close();
});

test('a patient with a temporary password must choose a new one first', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await patientLogin(page, lakeside.patients.find((p) => p.temporary));
  await page.getByRole('heading', { name: 'Choose your own password' }).waitFor();
  assert.equal(await page.evaluate(() => fetch('/v1/account').then((r) => r.status)), 403);
  await page.getByLabel('New password', { exact: true }).fill('password123');
  await page.getByLabel('New password again').fill('password123');
  await page.getByRole('button', { name: 'Save password' }).click();
  await page.getByText('too common').waitFor();
  await page.getByLabel('New password', { exact: true }).fill('blue harbour morning tide');
  await page.getByLabel('New password again').fill('blue harbour morning tide');
  await page.getByRole('button', { name: 'Save password' }).click();
  assert.ok((await tabNames(page)).length > 0);
  await ctx.close();
});

test('wrong credentials get a plain message and no session', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await patientLogin(page, { username: 'nobody.here', password: 'not a password' });
  await page.getByText('is not right').waitFor();
  assert.equal(await page.evaluate(() => fetch('/v1/me').then((r) => r.status)), 401);
  await ctx.close();
});

test('after logging out and in again without reloading, one arrow press moves one tab', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const alex = lakeside.patients.find((p) => p.username === 'alex.morgan');
  await patientLogin(page, alex);
  await tabNames(page);
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('button', { name: 'Log in' }).waitFor();
  await page.getByLabel('Username').fill(alex.username);
  await page.getByLabel('Password', { exact: true }).fill(alex.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  const names = await tabNames(page);
  await page.getByRole('tab', { name: names[0] }).focus();
  await page.keyboard.press('ArrowRight');
  const selected = await page.getByRole('tab', { selected: true }).textContent();
  assert.equal(selected, names[1], 'one press, one tab');
  await ctx.close();
});

test('staff choose family access on the admin page; the guarantor then sees only themself and minors in their care', async () => {
  const staffCtx = await browser.newContext();
  const admin = await staffCtx.newPage();
  await staffLogin(admin, lakeside);
  await admin.getByLabel('Everyone sees only their own records').check();
  await admin.getByRole('button', { name: 'Save family access' }).click();
  await admin.getByText('Family access saved.').waitFor();
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await patientLogin(page, lakeside.patients.find((p) => p.username === 'alex.morgan'));
  await tabNames(page);
  const family = await page.evaluate(() => fetch('/v1/me').then((r) => r.json()).then((me) => me.family.map((m) => m.relationship)));
  assert.deepEqual(family, ['self', 'minor']);
  await admin.getByLabel('The guarantor sees the whole family').check();
  await admin.getByRole('button', { name: 'Save family access' }).click();
  await admin.getByText('Family access saved.').waitFor();
  await ctx.close();
  await staffCtx.close();
});
