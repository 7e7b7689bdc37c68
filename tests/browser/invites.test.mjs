// The automated invites screen in Debian's Chromium: the default rules (7 days before, 1 hour
// after, off), a rule turned on and changed, a template without [PatientPortalURL] refused with
// the reason, the saved rules back after a reload. Left off at the end (the schedule runs while
// the other tests do).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { VIEWPORTS, audit, launch, practice, screen, staffLogin } from './helpers.mjs';

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
  await page.getByText('must contain [PatientPortalURL]').first().waitFor();
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
