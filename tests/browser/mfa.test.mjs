// Two-step sign-in for a patient in Debian's Chromium: turned on from My account with the QR code's key,
// the recovery codes shown once; the next login asks for a code after the password; a recovery
// code works too; turned off again at the end (other files log in as Jamie with the password only).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { VIEWPORTS, audit, launch, openView, patientLogin, practice, screen, totp } from './helpers.mjs';

const lakeside = practice('lakeside');
const jamie = lakeside.patients.find((p) => p.username === 'jamie.morgan');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a patient turns on two-step sign-in and logs in with a code, then a recovery code', async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.phone });
  const page = await ctx.newPage();
  await patientLogin(page, 'lakeside', jamie);
  await openView(page, 'My account');
  await page.getByRole('button', { name: 'Turn on two-step sign-in' }).click();
  await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
  const secret = (await page.locator('.security code').first().textContent()).trim();
  await screen(page, 'patient-mfa-enrol');
  await audit(page, 'mfa enrol');
  await page.getByLabel('Code from the app').fill('000000');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByText('That code does not match.').waitFor();
  await page.getByLabel('Code from the app').fill(totp(secret));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByText('Keep these recovery codes somewhere safe').waitFor();
  const codes = await page.locator('ul.codes code').allTextContents();
  assert.equal(codes.length, 10);
  await page.getByRole('button', { name: 'I have saved them' }).click();
  await page.getByText('Recovery codes left: 10.').waitFor();
  await page.getByRole('button', { name: /Log out/ }).click();

  // The password, then the code.
  await patientLogin(page, 'lakeside', jamie);
  await page.getByText('Enter the 6-digit code your authenticator app shows').waitFor();
  await screen(page, 'patient-mfa-login');
  await audit(page, 'mfa login');
  await page.locator('#login-form').getByLabel('Code from your authenticator app, or a recovery code').fill(totp(secret, 1));
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#home-view').waitFor({ state: 'visible' });
  await page.getByRole('button', { name: /Log out/ }).click();

  // A recovery code instead; then two-step sign-in off again.
  await patientLogin(page, 'lakeside', jamie);
  await page.locator('#login-form').getByLabel('Code from your authenticator app, or a recovery code').fill(codes[0]);
  await page.getByRole('button', { name: 'Log in' }).click();
  await openView(page, 'My account');
  await page.getByText('Recovery codes left: 9.').waitFor();
  await page.getByRole('button', { name: 'Turn off two-step sign-in' }).click();
  // A session alone does not turn it off: the password is asked for again.
  await page.getByLabel('Your password').fill('not the password');
  await page.getByRole('button', { name: 'Turn it off' }).click();
  await page.getByText('That password is not right.').waitFor();
  await page.getByLabel('Your password').fill(jamie.password);
  await page.getByRole('button', { name: 'Turn it off' }).click();
  await page.getByText('Two-step sign-in is off.').waitFor();
  await ctx.close();
});
