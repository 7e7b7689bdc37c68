// Portal access in Debian's Chromium: staff find a patient, see why another is not eligible, give
// access and print the login sheet (nothing else on the printed page); the patient logs in with the
// temporary password, must choose their own, and lands on the home page; staff write to a patient
// found by name. The temporary password never reaches browser storage.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VIEWPORTS, audit, launch, patientLogin, practice, screen, staffLogin } from './helpers.mjs';

const lakeside = practice('lakeside');
const OUTBOX = join(process.env.PORTAL_DATA_DIR, 'outbox');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const toSam = () => readdirSync(OUTBOX).filter((f) => f.endsWith('.eml')).map((f) => readFileSync(join(OUTBOX, f), 'utf8')).filter((m) => m.includes('To: sam.rivera@example.com'));

async function openPatients(page) {
  await staffLogin(page, lakeside);
  await page.getByRole('link', { name: 'Patients and access' }).click();
}

async function find(page, q) {
  await page.getByLabel('Name, birthdate or phone', { exact: true }).fill(q);
  await page.getByRole('button', { name: 'Find', exact: true }).click();
}

test('staff give a patient access and print the login; the patient logs in with it', async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop });
  const admin = await ctx.newPage();
  // Count print requests instead of opening the print dialog.
  await admin.addInitScript(() => { window.printed = 0; window.print = () => { window.printed += 1; }; });
  await openPatients(admin);
  await find(admin, 'ortega');
  await admin.getByText('Not eligible yet: the record needs address, city, state, phone.').waitFor();
  await find(admin, 'Brooks, Taylor');
  const row = admin.locator('#patients-items li', { hasText: 'Taylor Brooks' });
  await row.getByText('No portal access').waitFor();
  await screen(admin, 'staff-patients');
  await audit(admin, 'staff patients');
  await row.getByRole('button', { name: /^Give portal access/ }).click();

  const sheet = admin.locator('#access-sheet');
  await sheet.waitFor({ state: 'visible' });
  const username = (await admin.locator('#sheet-username').textContent()).trim();
  const password = (await admin.locator('#sheet-password').textContent()).trim();
  assert.match(username, /^taylor\d{4}$/);
  assert.doesNotMatch(password, /[0Oo1lI]/);
  assert.match(await admin.locator('#sheet-url').textContent(), /\/p\/lakeside\/$/);
  assert.equal(await admin.locator('#sheet-phone').textContent(), 'Questions? Call us at (269) 555-0100.', 'the office phone is on the sheet');
  await row.getByText(`Portal access: ${username}`).waitFor();
  await screen(admin, 'staff-access-sheet');
  await audit(admin, 'login sheet');
  await admin.getByRole('button', { name: 'Print' }).click();
  await admin.waitForFunction(() => window.printed === 1);
  // Printed, the sheet is the only thing on the page.
  await admin.emulateMedia({ media: 'print' });
  assert.ok(await admin.locator('#sheet-password').isVisible());
  assert.ok(!(await admin.locator('#patients-items').isVisible()), 'the patient list does not print');
  assert.ok(!(await admin.getByRole('button', { name: 'Print' }).isVisible()), 'buttons do not print');
  await admin.emulateMedia({ media: 'screen' });
  // Nothing of it stays in the browser.
  const stored = await admin.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
  assert.ok(!stored.includes(password));
  await admin.getByRole('button', { name: 'Close' }).click();
  assert.equal((await admin.locator('#sheet-password').textContent()), '', 'the password is gone from the page');

  // The patient: the temporary password, then their own, then the home page.
  const patientCtx = await browser.newContext({ viewport: VIEWPORTS.phone });
  const patient = await patientCtx.newPage();
  await patientLogin(patient, 'lakeside', { username: username.toUpperCase(), password });
  await patient.getByRole('heading', { name: 'Choose your own password' }).waitFor();
  await patient.locator('#password-form').getByLabel('New password', { exact: true }).fill('lighthouse on the hill 7');
  await patient.locator('#password-form').getByLabel('New password again').fill('lighthouse on the hill 7');
  await patient.getByRole('button', { name: 'Save password' }).click();
  await patient.locator('#home-view').waitFor({ state: 'visible' });
  await patientCtx.close();

  // Staff see the visit, and the print in the activity log.
  await find(admin, 'taylor');
  await row.getByText(/Last visit/).waitFor();
  await admin.getByRole('link', { name: 'Activity' }).click();
  await admin.getByLabel('What').selectOption('access');
  await admin.getByRole('button', { name: 'Show', exact: true }).click();
  await admin.locator('#audit-entries li').first().waitFor();
  assert.ok((await admin.locator('#audit-entries li').count()) >= 2, 'grant and print are listed');
  await ctx.close();
});

test('staff write to a patient chosen from the patients screen or found in the compose form', async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.phone });
  const admin = await ctx.newPage();
  await openPatients(admin);
  await find(admin, 'sam');
  await admin.locator('#patients-items li', { hasText: 'Sam Rivera' }).getByRole('button', { name: /^Write a message/ }).click();
  await admin.getByRole('heading', { name: 'New message' }).waitFor();
  assert.match(await admin.locator('#mail-to option:checked').textContent(), /Sam Rivera/);
  await admin.getByLabel('Subject', { exact: true }).fill('Your X-rays');
  const text = `The X-rays from your visit are ready ${Date.now()}`;
  await admin.getByLabel('Message', { exact: true }).fill(text);
  await screen(admin, 'staff-webmail-compose');
  await audit(admin, 'staff compose');
  const before = toSam().length;
  await admin.getByRole('button', { name: 'Send message' }).click();
  await admin.locator('#mail-thread .body', { hasText: text }).waitFor();
  assert.match(await admin.locator('#mail-thread-patient').textContent(), /Sam Rivera/);
  // Sam is told by email, without the text.
  let mails = [];
  for (let i = 0; i < 50 && mails.length <= before; i += 1) {
    mails = toSam();
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(mails.length, before + 1);
  assert.ok(!mails.some((m) => m.includes('X-rays')));

  // Found in the compose form itself, by birthdate.
  await admin.getByRole('button', { name: 'Back to messages' }).first().click();
  await admin.getByRole('button', { name: 'New message to a patient' }).click();
  await admin.getByLabel('Find the patient (name, birthdate or phone)').fill('03/09/1984');
  await admin.getByRole('button', { name: 'Find', exact: true }).click();
  await admin.locator('#mail-to option', { hasText: 'Alex Morgan' }).waitFor({ state: 'attached' });
  assert.match(await admin.locator('#mail-to option:checked').textContent(), /Alex Morgan/);
  await ctx.close();
});
