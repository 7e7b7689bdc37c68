// WebMail in Debian's Chromium: a patient writes to a provider; the office is told by email
// (never the text); staff read it on the admin page and reply; the patient is told by email (never
// the text), sees the unread count on the tab, reads the reply and answers it with a PDF, which
// staff open; a file that is not what it claims is refused. Text stays text.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VIEWPORTS, audit, currentView, launch, openView, patientLogin, practice, screen, staffLogin } from './helpers.mjs';

const lakeside = practice('lakeside');
const alex = lakeside.patients.find((p) => p.username === 'alex.morgan');
const OUTBOX = join(process.env.PORTAL_DATA_DIR, 'outbox');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** The mails in portal-local's outbox to `to`, waiting for at least `want`. */
async function mailsTo(to, want) {
  for (let i = 0; i < 50; i += 1) {
    const mails = readdirSync(OUTBOX).filter((f) => f.endsWith('.eml')).map((f) => readFileSync(join(OUTBOX, f), 'utf8')).filter((m) => m.includes(`To: ${to}`));
    if (mails.length >= want) return mails;
    await new Promise((r) => setTimeout(r, 100));
  }
  return [];
}

test('a patient writes, the office is told and replies, the patient is told and reads it', async () => {
  const secret = `Is the crown seat still on? <img src=x onerror=alert(1)> ${Date.now()}`;
  // Other files' patients write to the office too: count from here.
  const earlier = new Set(await mailsTo('frontdesk@lakeside.example', 0));
  const ctx = await browser.newContext({ viewport: VIEWPORTS.phone });
  const page = await ctx.newPage();
  await patientLogin(page, 'lakeside', alex);
  await openView(page, /^Messages/);
  await page.getByRole('button', { name: 'New message' }).click();
  await page.getByLabel('To', { exact: true }).selectOption({ label: 'Maya Chen, DDS' });
  await page.getByLabel('Subject', { exact: true }).fill('Crown seat');
  await page.getByLabel('Message', { exact: true }).fill(secret);
  await screen(page, 'patient-webmail-compose');
  await audit(page, 'webmail compose');
  await page.getByRole('button', { name: 'Send' }).click();
  // The thread shows the text as text.
  await page.locator('ol.thread .body', { hasText: secret }).waitFor();
  assert.equal(await page.locator('ol.thread img').count(), 0, 'markup in a message is text');
  const office = (await mailsTo('frontdesk@lakeside.example', earlier.size + 1)).filter((m) => !earlier.has(m));
  assert.equal(office.length, 1);
  assert.ok(!office[0].includes('Crown seat') && !office[0].includes('crown seat'), 'the office mail carries no text');

  // Staff: the message is there, unread; they open it and reply.
  const staffCtx = await browser.newContext({ viewport: VIEWPORTS.desktop, acceptDownloads: true });
  const admin = await staffCtx.newPage();
  await staffLogin(admin, lakeside);
  await admin.getByRole('link', { name: 'Messages' }).click();
  const item = admin.locator('#mail-items li', { hasText: 'Crown seat' });
  await item.waitFor();
  assert.match(await item.textContent(), /Unread/);
  await screen(admin, 'staff-webmail');
  await audit(admin, 'staff webmail');
  await item.getByRole('button', { name: 'Crown seat' }).click();
  await admin.locator('#mail-thread .body', { hasText: secret }).waitFor();
  await admin.locator('#mail-thread', { hasText: 'notification sent' }).waitFor();
  await admin.getByLabel('Reply as').selectOption({ label: 'Maya Chen, DDS' });
  await admin.getByLabel('Reply to the patient').fill('Yes, Friday at 9. Reply here if that does not suit you.');
  await admin.getByRole('button', { name: 'Send reply' }).click();
  await admin.locator('#mail-thread .body', { hasText: 'Yes, Friday at 9.' }).waitFor();
  await screen(admin, 'staff-webmail-thread');
  const told = await mailsTo('alex.morgan@example.com', 1);
  assert.ok(told.length >= 1);
  assert.ok(told.every((m) => !m.includes('Friday')), 'the patient mail carries no text');

  // The patient: the count on the tab from Home on (before Messages is opened), the reply, read
  // once opened.
  await page.goto(page.url().replace(/#.*$/, '#/home'));
  await page.reload();
  await page.locator('#home-view').waitFor({ state: 'visible' });
  await page.locator('#view-list a[data-view=ModuleWebMail] .count').waitFor();
  assert.equal(await currentView(page), 'Home');
  await openView(page, /^Messages/);
  assert.equal(await page.locator('#view-list a[data-view=ModuleWebMail] .count').textContent(), '1');
  const reply = page.locator('ul.messages li', { hasText: 'Re: Crown seat' });
  assert.match(await reply.locator('.subject').getAttribute('class'), /unread/);
  await reply.getByRole('button').click();
  await page.locator('ol.thread .body', { hasText: 'Yes, Friday at 9.' }).waitFor();
  assert.match(await page.locator('ol.thread li', { hasText: 'Yes, Friday at 9.' }).textContent(), /Maya Chen, DDS to Alex Morgan/, 'written as the provider');
  await page.waitForFunction(() => !document.querySelector('#view-list a[data-view=ModuleWebMail] .count'));
  await screen(page, 'patient-webmail-thread');
  await audit(page, 'webmail thread');
  // The reply carries a PDF; staff open it and get exactly its bytes.
  const pdf = Buffer.from(`%PDF-1.4\n% insurance card ${Date.now()}\n%%EOF\n`);
  await page.getByLabel('Your reply').fill('Friday works, thank you. My new insurance card is attached.');
  await page.getByLabel('Attach files (optional)').setInputFiles({ name: 'insurance-card.pdf', mimeType: 'application/pdf', buffer: pdf });
  await page.getByRole('button', { name: 'Send' }).click();
  await page.locator('ol.thread .body', { hasText: 'Friday works, thank you.' }).waitFor();
  await page.locator('ol.thread ul.files', { hasText: 'insurance-card.pdf' }).waitFor();
  assert.equal((await mailsTo('frontdesk@lakeside.example', earlier.size + 2)).filter((m) => !earlier.has(m)).length, 2);
  // A "PDF" that is not one is refused before anything is sent.
  await page.getByLabel('Your reply').fill('And a scan.');
  await page.getByLabel('Attach files (optional)').setInputFiles({ name: 'scan.pdf', mimeType: 'application/pdf', buffer: Buffer.from('<html>not a pdf</html>') });
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByText('One of the files is not what its type says').waitFor();
  assert.equal(await page.locator('ol.thread .body', { hasText: 'And a scan.' }).count(), 0);

  await admin.getByRole('button', { name: 'Back to messages' }).click();
  await admin.locator('#mail-items li', { hasText: 'Re: Crown seat' }).first().getByRole('button').click();
  await admin.locator('#mail-thread .body', { hasText: 'My new insurance card is attached.' }).waitFor();
  const download = admin.waitForEvent('download');
  await admin.locator('#mail-thread').getByRole('button', { name: 'insurance-card.pdf' }).click();
  const file = await download;
  assert.equal(file.suggestedFilename(), 'insurance-card.pdf');
  assert.deepEqual(readFileSync(await file.path()), pdf);
  await ctx.close();
  await staffCtx.close();
});
