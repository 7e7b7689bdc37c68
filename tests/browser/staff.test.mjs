// Staff users in Debian's Chromium: an admin adds a front-desk user, sets up their authenticator
// from the QR code's key, and the new user logs in with the temporary password and a code, must
// choose their own password, and then sees no admin-only screen and cannot reach admin routes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, VIEWPORTS, audit, launch, practice, screen, staffLogin, totp } from './helpers.mjs';

const lakeside = practice('lakeside');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('an admin adds a front-desk user who enrols an authenticator and gets front-desk rights only', async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop });
  const admin = await ctx.newPage();
  await staffLogin(admin, lakeside);
  await admin.getByRole('link', { name: 'Staff users' }).click();
  await admin.locator('#staff-form').getByLabel('Username').fill('desk.three');
  await admin.getByLabel('Name', { exact: true }).fill('Robin Front Desk');
  await admin.getByLabel('Role').selectOption('front-desk');
  await admin.getByRole('button', { name: 'Add staff user' }).click();
  await admin.locator('#staff-new').waitFor();
  const password = (await admin.locator('#staff-new-password').textContent()).trim();
  assert.ok(password.length >= 16);
  await admin.getByRole('img', { name: 'QR code for the authenticator app' }).waitFor();
  const secret = (await admin.locator('#staff-secret').textContent()).trim();
  await screen(admin, 'staff-users-enrol');
  await audit(admin, 'staff users');
  await admin.getByLabel('Code from the app').fill('000000');
  await admin.getByRole('button', { name: 'Confirm' }).click();
  await admin.getByText('That code does not match').waitFor();
  await admin.getByLabel('Code from the app').fill(totp(secret));
  await admin.getByRole('button', { name: 'Confirm' }).click();
  await admin.getByText("Robin Front Desk's authenticator is set up.").waitFor();
  const row = admin.locator('#staff-items li', { hasText: 'Robin Front Desk' });
  await row.getByText('Authenticator set up').waitFor();
  await row.getByText('Front desk').first().waitFor();
  assert.equal(await admin.locator('#staff-secret').textContent(), '', 'the key is gone once confirmed');

  // The new user: temporary password and a code, then their own password.
  const deskCtx = await browser.newContext({ viewport: VIEWPORTS.phone });
  const desk = await deskCtx.newPage();
  await desk.goto(`${BASE}/admin/?practice=lakeside`);
  const login = desk.locator('#login-form');
  await login.getByLabel('Username').fill('desk.three');
  await login.getByLabel('Password', { exact: true }).fill(password);
  await login.getByLabel('Authenticator code').fill(totp(secret, 1));
  await desk.getByRole('button', { name: 'Log in' }).click();
  await desk.getByRole('heading', { name: 'Choose your own password' }).waitFor();
  await screen(desk, 'staff-new-password');
  await audit(desk, 'staff new password');
  await desk.getByLabel('Temporary password').fill(password);
  await desk.getByLabel('New password', { exact: true }).fill('robin keeps the front desk');
  await desk.getByLabel('New password again').fill('robin keeps the front desk');
  await desk.getByRole('button', { name: 'Save password' }).click();
  await desk.locator('#staff-view').waitFor({ state: 'visible' });
  // Front desk: patients and messages yes; staff users, activity and settings changes no.
  assert.ok(await desk.getByRole('link', { name: 'Patients and access' }).isVisible());
  assert.ok(!(await desk.getByRole('link', { name: 'Staff users' }).isVisible()));
  assert.ok(!(await desk.getByRole('link', { name: 'Activity' }).isVisible()));
  await desk.goto(`${BASE}/admin/#staff`);
  await desk.locator('#section-setup').waitFor({ state: 'visible' });
  const answers = await desk.evaluate(async () => Promise.all(['/v1/admin/staff', '/v1/admin/sync-keys', '/v1/admin/audit'].map((p) => fetch(p).then((r) => r.status))));
  assert.deepEqual(answers, [403, 403, 403]);

  // Disabled by the admin: the session ends at once.
  await admin.reload();
  await admin.getByRole('link', { name: 'Staff users' }).click();
  admin.once('dialog', (d) => d.accept());
  await admin.locator('#staff-items li', { hasText: 'Robin Front Desk' }).getByRole('button', { name: /^Disable/ }).click();
  await admin.locator('#staff-items li', { hasText: 'Robin Front Desk' }).getByText('Disabled').waitFor();
  assert.equal(await desk.evaluate(() => fetch('/v1/me').then((r) => r.status)), 401);
  await deskCtx.close();
  await ctx.close();
});
