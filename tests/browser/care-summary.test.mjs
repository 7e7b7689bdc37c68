// The care summary tab in Debian's Chromium: Alex sees his problems, medications, allergies and the
// rest, with a notice naming the code lists his office has not imported; narrows the dates;
// downloads the zip (its SHA-256 shown, the file's own matching it); sends it by email (the
// outbox has it); and finds all three in the activity list — in English and in Spanish. axe-clean.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { VIEWPORTS, audit, launch, openView, patientLogin, practice, screen, staffLogin } from './helpers.mjs';

const lakeside = practice('lakeside');
const alex = lakeside.patients.find((p) => p.username === 'alex.morgan');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a patient views, downloads and sends their care summary and sees the activity', async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop, locale: 'en-US', acceptDownloads: true });
  const page = await ctx.newPage();
  await patientLogin(page, 'lakeside', alex);
  await openView(page, 'Care summary');
  const panel = page.locator('#panel-ModuleCareSummary');
  await panel.getByRole('heading', { name: 'Allergies' }).waitFor();
  const part = (name) => panel.locator('section.part', { has: page.getByRole('heading', { name, exact: true }) });
  await part('Problems').getByText('Hypertensive disorder').waitFor();
  await part('Medications').getByText(/Amlodipine 5 MG Oral Tablet/i).waitFor();
  await part('Care team').getByText('Maya Chen, DDS').waitFor();
  await panel.getByRole('note').getByText(/SNOMED CT/).waitFor();
  await screen(page, 'patient-care-summary-full');
  await audit(page, 'patient care summary');

  // Only 2019: the old, still active problem; no visits.
  await panel.getByLabel('From', { exact: true }).fill('2019-01-01');
  await panel.getByLabel('To', { exact: true }).fill('2019-12-31');
  await panel.getByRole('button', { name: 'Show' }).click();
  await part('Visits').getByText('None recorded.').waitFor();
  await part('Problems').getByText('Hypertensive disorder').waitFor();
  assert.equal(await part('Problems').locator('li').count(), 1);
  await panel.getByLabel('From', { exact: true }).fill('');
  await panel.getByLabel('To', { exact: true }).fill('');

  const download = page.waitForEvent('download');
  await panel.getByRole('button', { name: 'Download my care summary' }).click();
  const file = await download;
  assert.match(file.suggestedFilename(), /^care-summary-\d{4}-\d{2}-\d{2}\.zip$/);
  const shown = (await panel.getByText(/its SHA-256 is/).textContent()).match(/[0-9a-f]{64}/)[0];
  assert.equal(createHash('sha256').update(readFileSync(await file.path())).digest('hex'), shown);

  await panel.getByLabel('Email address to send it to').fill('not an address');
  await panel.getByRole('button', { name: 'Send', exact: true }).click();
  await panel.getByText('Enter an email address such as name@example.com.').waitFor();
  await panel.getByLabel('Email address to send it to').fill('records@clinic.example');
  await panel.getByRole('button', { name: 'Send', exact: true }).click();
  await panel.getByText('Sent to records@clinic.example.').waitFor();

  const activity = panel.getByRole('list', { name: 'Activity' });
  await activity.getByText('Sent', { exact: true }).waitFor();
  await activity.getByText(/by you · to records@clinic.example/).waitFor();
  await activity.getByText('Downloaded', { exact: true }).waitFor();
  await audit(page, 'patient care summary after sending');

  await page.getByLabel('Language').selectOption('es');
  await openView(page, 'Resumen de atención');
  await panel.getByRole('heading', { name: 'Alergias' }).waitFor();
  await panel.getByRole('button', { name: 'Descargar mi resumen de atención' }).waitFor();
  await screen(page, 'patient-care-summary-es');
  await ctx.close();
});

test('staff register a Direct address; a patient sends their summary to it encrypted', async () => {
  const pem = readFileSync(new URL('../fixtures/smime/recipient-cert.pem', import.meta.url), 'utf8');
  const staffCtx = await browser.newContext({ viewport: VIEWPORTS.desktop });
  const staff = await staffCtx.newPage();
  await staffLogin(staff, lakeside);
  const list = staff.getByRole('list', { name: 'Direct addresses' });
  await list.getByText(/None yet/).waitFor();
  await staff.getByLabel(/Certificate \(PEM/).fill('not a certificate');
  await staff.getByRole('button', { name: 'Add address' }).click();
  await staff.getByText(/not a PEM X.509 certificate/).waitFor();
  await staff.getByLabel(/Certificate \(PEM/).fill(pem);
  await staff.getByRole('button', { name: 'Add address' }).click();
  await list.getByText('records@direct.clinic.example').waitFor();
  await list.getByText(/SHA-256 [0-9a-f]{64}/).waitFor();
  await audit(staff, 'staff direct addresses');

  const ctx = await browser.newContext({ viewport: VIEWPORTS.phone, locale: 'en-US' });
  const page = await ctx.newPage();
  await patientLogin(page, 'lakeside', alex);
  await openView(page, 'Care summary');
  const panel = page.locator('#panel-ModuleCareSummary');
  await panel.getByLabel('Email address to send it to').fill('someone@else.example');
  await panel.getByLabel(/Encrypted/).check();
  await panel.getByRole('button', { name: 'Send', exact: true }).click();
  await panel.getByText(/Encrypted sending is not set up for that address/).waitFor();
  await panel.getByLabel('Email address to send it to').fill('records@direct.clinic.example');
  await panel.getByRole('button', { name: 'Send', exact: true }).click();
  await panel.getByText('Sent to records@direct.clinic.example.').waitFor();
  await ctx.close();

  await staff.getByRole('button', { name: 'Remove records@direct.clinic.example' }).click();
  await list.getByText(/None yet/).waitFor();
  await staffCtx.close();
});
