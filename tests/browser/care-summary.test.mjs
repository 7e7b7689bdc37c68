// The care summary view in Debian's Chromium: Alex sees his problems, medications, allergies and the
// rest in plain words (no code numbers until Details is opened, nothing about the office's code
// lists); narrows the dates; downloads the zip ("Verify this file" gives its fingerprint, the file's
// own matching it); sends it by email (the outbox has it); and finds all three in the activity
// list — in English and in Spanish. axe-clean.
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
  // Who Alex is, as the office's record says (USCDI), and the smoking status in plain words.
  const about = await part('About you').locator('dl').innerText();
  assert.match(about, /Sex\s+Male/);
  assert.match(about, /Race\s+White, Asian, European, Japanese/);
  assert.match(about, /Ethnicity\s+Not Hispanic or Latino/);
  await part('Social history').getByText('Used to smoke').waitFor();
  assert.match(await part('Medications').innerText(), /dose 1 · by mouth/);
  await part('Goals').getByText('Keep tooth #30 healthy after its crown').waitFor();
  assert.match(await part('Insurance').innerText(), /Lakeshore Mutual Dental[\s\S]*primary · Lakeshore Dental PPO · member ID LMD448120 · group GRP-7730/);
  await part('Plan of treatment').getByText(/Crown recommended after fracture of the mesial cusp/).waitFor();
  await part('Health concerns').getByText('Hypertensive disorder').waitFor();
  assert.match(await part('Immunizations').innerText(), /dose 0.5 mL · injected into a muscle/);
  // The implant at #19, its UDI read into words; the UDI as printed under Details.
  const implant = part('Implanted devices').locator('li', { hasText: 'tooth 19' });
  assert.match(await implant.innerText(), /device 00844588003288 · lot ALX2024 · serial number SN4471902 · use by Jun 30, 2029/);
  // Plain words: procedures by name, and no code numbers on the screen until Details is opened.
  await part('Procedures').getByText('Crown — porcelain/ceramic #30').waitFor();
  await part('Visits').getByText(/Checkup, Cleaning, Bitewing X-rays/).waitFor();
  const visible = await panel.evaluate((p) => p.innerText);
  for (const code of [/\bD\d{4}\b/, /\b38341003\b/, /\b197361\b/, /\b8480-6\b/, /\b1234567893\b/, /SNOMED|RxNorm|LOINC|NPI|CDT|Prophy/, /code lists/]) {
    assert.doesNotMatch(visible, code);
  }
  const crown = part('Procedures').locator('li', { hasText: 'Crown — porcelain/ceramic' });
  await crown.getByText('Details').click();
  await crown.getByText('CDT code D2740').waitFor();
  await part('Care team').locator('li', { hasText: 'Maya Chen' }).getByText('Details').click();
  await part('Care team').getByText('National Provider Identifier (NPI): 1234567893').waitFor();
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
  assert.doesNotMatch(await panel.evaluate((p) => p.innerText), /[0-9a-f]{64}/, 'the fingerprint is help, not in the way');
  await panel.getByText('Verify this file').click();
  const shown = await panel.locator('details', { hasText: 'Verify this file' }).locator('p.code').textContent();
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
  assert.doesNotMatch(await activity.textContent(), /to \d{4}-\d{2}-\d{2}/, 'a download has no recipient');
  await audit(page, 'patient care summary after sending');

  await page.getByLabel('Language').selectOption('es');
  await openView(page, 'Resumen de atención');
  await panel.getByRole('heading', { name: 'Alergias' }).waitFor();
  await panel.getByRole('button', { name: 'Descargar mi resumen de atención' }).waitFor();
  await part('Procedimientos').getByText('Corona — porcelana/cerámica #30').waitFor();
  assert.match(await part('Sobre usted').locator('dl').innerText(), /Raza\s+Blanco, Asiático, European, Japanese/);
  await part('Hábitos y antecedentes sociales').getByText('Fumaba antes').waitFor();
  // Times in the activity list in Spanish, too (12-hour: "p. m." / "a. m.").
  assert.match(await panel.getByRole('list', { name: 'Actividad' }).textContent(), /[ap]\.\s?m\./);
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
