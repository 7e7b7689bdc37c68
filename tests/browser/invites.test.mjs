// The automated invites screen in Debian's Chromium: the default rules (7 days before, 1 hour
// after, off), a rule turned on and changed, a template without [URL] refused with the reason,
// the saved rules back after a reload. Left off at the end (the schedule runs while the other
// tests do). A rule's email previewed for a sample patient in both languages and sent to oneself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE, VIEWPORTS, audit, launch, practice, screen, staffLogin } from './helpers.mjs';

const lakeside = practice('lakeside');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('staff set the automated invite rules', async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop });
  const page = await ctx.newPage();
  await staffLogin(page, lakeside);
  await page.getByRole('link', { name: 'Invites' }).click();
  const first = page.getByRole('group', { name: 'Rule 1' });
  await first.waitFor();
  assert.equal(await page.locator('fieldset.rule').count(), 2);
  assert.equal(await first.getByLabel('Send', { exact: true }).inputValue(), '7');
  assert.equal(await first.getByLabel('Unit').inputValue(), 'days');
  assert.equal(await page.getByRole('group', { name: 'Rule 2' }).getByLabel('Unit').inputValue(), 'hours');
  assert.ok(!(await first.getByLabel('On', { exact: true }).isChecked()), 'off until turned on');
  await page.getByText('No invites yet.').waitFor();
  await screen(page, 'staff-invites');
  await audit(page, 'staff invites');

  await first.getByLabel('On', { exact: true }).check();
  await first.getByLabel('Send', { exact: true }).fill('2');
  await first.getByLabel('Resend').selectOption('noVisitWithin');
  await first.getByLabel('Days without a visit').fill('90');
  await page.getByLabel('Office phone ([OfficePhone])').fill('(269) 555-0100');
  const text = first.getByLabel('Email text', { exact: true });
  assert.match(await first.getByLabel(/^Email text in Spanish/).inputValue(), /^Estimado\/a \[NameF\]:/, 'the Spanish default is there to adapt');
  const original = await text.inputValue();
  await text.fill('Dear [NameF], please log in.');
  await page.getByRole('button', { name: 'Save rules' }).click();
  await page.locator('#invite-status', { hasText: 'must contain [URL]' }).waitFor();
  await text.fill(original);
  await page.getByRole('button', { name: 'Save rules' }).click();
  await page.locator('#invite-status', { hasText: 'Saved.' }).waitFor();

  await page.reload();
  await page.getByRole('link', { name: 'Invites' }).click();
  const again = page.getByRole('group', { name: 'Rule 1' });
  await again.waitFor();
  assert.equal(await again.getByLabel('Send', { exact: true }).inputValue(), '2');
  assert.equal(await again.getByLabel('Resend').inputValue(), 'noVisitWithin');
  assert.equal(await again.getByLabel('Days without a visit').inputValue(), '90');
  assert.ok(await again.getByLabel('On', { exact: true }).isChecked());
  await again.getByLabel('On', { exact: true }).uncheck();
  await page.getByRole('button', { name: 'Save rules' }).click();
  await page.locator('#invite-status', { hasText: 'Saved.' }).waitFor();
  await ctx.close();
});

test('a rule\'s email is previewed for a sample patient in both languages and sent to oneself', async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.phone });
  const page = await ctx.newPage();
  await staffLogin(page, lakeside);
  await page.getByRole('link', { name: 'Invites' }).click();
  const rule = page.getByRole('group', { name: 'Rule 2' });
  await rule.waitFor();
  assert.match(await page.locator('#invite-tags').textContent(), /\[PracticeName\].*\[URL\]/, 'the notification template\'s names');
  await page.getByLabel('Office phone ([OfficePhone])').fill('(269) 555-0142');
  await rule.getByRole('button', { name: 'Preview', exact: true }).click();
  const shown = rule.locator('.mail-preview');
  await shown.getByText('Subject: Your patient portal at Lakeside').waitFor();
  const text = await shown.locator('pre.mail').textContent();
  assert.match(text, /^Dear Alex,/);
  assert.ok(text.includes(`Log in at ${BASE}/p/lakeside/`) && text.includes('(269) 555-0142'), text);
  assert.ok(!/\[[A-Za-z]+\]/.test(text), 'every tag filled in');
  await screen(page, 'staff-invites-preview');
  await audit(page, 'staff invites preview');
  await rule.getByRole('button', { name: 'Preview in Spanish' }).click();
  await shown.locator('pre.mail', { hasText: 'Estimado/a Alex:' }).waitFor();
  assert.ok((await shown.locator('pre.mail').textContent()).includes(`${BASE}/p/lakeside/?lang=es`));
  // A tag the invites do not know is refused as a save would refuse it.
  await rule.getByLabel('Email text', { exact: true }).fill('Hi [NameF], see [URL] and pay [Balance].');
  await rule.getByRole('button', { name: 'Preview', exact: true }).click();
  await rule.getByText('[Balance] is not a known tag').waitFor();
  await rule.getByLabel('Email text', { exact: true }).fill('Hi [NameF], your portal: [URL] (user [UserName]).');
  await rule.getByRole('button', { name: 'Preview', exact: true }).click();
  await shown.getByLabel('Your email address').fill('robin@lakeside.example');
  await shown.getByRole('button', { name: 'Send a test to me' }).click();
  await rule.getByText('Sent to robin@lakeside.example').waitFor();
  const outbox = join(process.env.PORTAL_DATA_DIR, 'outbox');
  const sent = readdirSync(outbox).map((f) => readFileSync(join(outbox, f), 'utf8')).filter((m) => m.includes('To: robin@lakeside.example'));
  assert.equal(sent.length, 1);
  assert.ok(sent[0].includes('From: portal@lakeside.example') && sent[0].includes('Subject: Your patient portal at Lakeside'), sent[0]);
  const mailText = Buffer.from(sent[0].split('Content-Transfer-Encoding: base64')[1].split('--')[0].replace(/\s/g, ''), 'base64').toString();
  assert.equal(mailText, `Hi Alex, your portal: ${BASE}/p/lakeside/ (user alex.sample).`);
  await ctx.close();
});
