// Staff users in Debian's Chromium: an admin adds a front-desk user, sets up their authenticator
// from the QR code's key, and the new user logs in with the temporary password and a code, must
// choose their own password, and then sees no admin-only screen and cannot reach admin routes.
// The new user logs in at the practice's staff address (no practice ID to type), lands on the
// first screen the front desk uses, and no screen they open asks for what they may not see.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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
  const address = await admin.locator('#staff-new a.staff-address').textContent();
  assert.equal(address, `${BASE}/p/lakeside/staff/`, 'the new user is told where to log in');
  assert.equal(await admin.locator('#staff-secret').textContent(), '', 'the key is gone once confirmed');

  // The new user: temporary password and a code, then their own password.
  const deskCtx = await browser.newContext({ viewport: VIEWPORTS.phone });
  const desk = await deskCtx.newPage();
  await desk.goto(address);
  await desk.getByText('Lakeside', { exact: false }).first().waitFor();
  assert.ok(!(await desk.getByLabel('Practice ID').isVisible()), 'the staff address names the practice');
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
  // Front desk: patients and messages yes (their first screen); staff users, sync keys, activity
  // and settings changes no.
  await desk.locator('#section-patients').waitFor({ state: 'visible' });
  assert.equal(await desk.locator('nav.sections a[aria-current=page]').textContent(), 'Patients and access');
  for (const name of ['Staff users', 'Practice system', 'Activity']) assert.ok(!(await desk.getByRole('link', { name }).isVisible()), name);
  // Every screen they are offered opens without asking for what they may not see.
  const refused = [];
  desk.on('response', (r) => { if (r.url().includes('/v1/') && r.status() >= 400) refused.push(`${r.status()} ${new URL(r.url()).pathname}`); });
  const offered = await desk.locator('nav.sections a:visible').allTextContents();
  assert.ok(offered.length >= 5, offered.join());
  for (const name of offered) {
    await desk.locator('nav.sections').getByRole('link', { name, exact: true }).click();
    await desk.waitForLoadState('networkidle');
    const errors = await desk.locator('.status.bad:visible').allTextContents();
    assert.deepEqual(errors.filter((t) => t.trim()), [], `${name}: no error shown`);
  }
  assert.deepEqual(refused, [], 'no request a front desk may not make');
  await desk.goto(`${BASE}/admin/#staff`);
  await desk.locator('#section-patients').waitFor({ state: 'visible' });
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

test('the Activity screen says every audited action in words, and its filter offers every category', async () => {
  // `portal-local --print-audit-actions` (tests/run writes it): "ACTION CATEGORY" per line.
  assert.ok(process.env.PORTAL_AUDIT_ACTIONS, 'PORTAL_AUDIT_ACTIONS names the list of audited actions');
  const listed = readFileSync(process.env.PORTAL_AUDIT_ACTIONS, 'utf8').trim().split('\n').map((l) => l.split(' '));
  const actions = listed.map(([action]) => action);
  assert.ok(actions.length > 50, `${actions.length} actions`);
  const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop });
  const page = await ctx.newPage();
  await staffLogin(page, lakeside);
  const missing = await page.evaluate(async (all) => {
    const words = await import('/admin/audit.js');
    return all.filter((a) => !words.hasWords(a));
  }, actions);
  assert.deepEqual(missing, [], 'actions without words on the Activity screen');
  await page.getByRole('link', { name: 'Activity' }).click();
  const categories = await page.locator('#audit-what option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
  assert.deepEqual(categories.sort(), [...new Set(listed.map(([, c]) => c))].sort());
  // What the demo and the other tests did so far, as the screen shows it: no action by its code.
  await page.locator('#audit-entries li').first().waitFor();
  const shown = await page.locator('#audit-entries li').allTextContents();
  const coded = shown.filter((t) => actions.some((a) => t.includes(': ' + a)));
  assert.deepEqual(coded, []);
  await ctx.close();
});

test('Verify log answers in words: the real check, then a changed entry as the API names it', async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop });
  const page = await ctx.newPage();
  await staffLogin(page, lakeside);
  await page.getByRole('link', { name: 'Activity' }).click();
  const verify = page.getByRole('button', { name: 'Verify log' });
  await verify.click();
  // The demo's log is today's: nothing sealed yet, or (past midnight) sealed and intact.
  await page.locator('#audit-verify-status.good', { hasText: /No day of the log has been sealed yet|The log is as it was sealed/ }).waitFor();
  // A check that goes on over two requests and then finds a change (the API's answers, planted).
  const answers = [
    { days: 31, entries: 20000, intactThrough: '2026-01-31', head: 'a'.repeat(64), problem: null, cursor: 'next' },
    { days: 2, entries: 10, intactThrough: '2026-02-02', head: 'b'.repeat(64), cursor: null,
      problem: { kind: 'altered', day: '2026-02-03', entry: '1770112800000#abc', at: 1770112800, action: 'account.ledger.read' } },
  ];
  const asked = [];
  await page.route('**/v1/admin/audit/verify*', (route) => {
    asked.push(new URL(route.request().url()).searchParams.get('cursor'));
    return route.fulfill({ json: answers[asked.length - 1] });
  });
  await verify.click();
  await page.locator('#audit-verify-status.bad', { hasText: /\(account\.ledger\.read\) was changed after its day was sealed\. Entry id: 1770112800000#abc\./ }).waitFor();
  assert.deepEqual(asked, [null, 'next']);
  await ctx.close();
});

test('Setup gives the staff address and checks links in plain words', async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop });
  const page = await ctx.newPage();
  await staffLogin(page, lakeside);
  await page.getByRole('link', { name: 'Setup' }).click();
  assert.equal(await page.locator('#staff-link').textContent(), `${BASE}/p/lakeside/staff/`);
  assert.ok(await page.locator('#email-setup-note').isHidden(), 'the demo practice has a sender');
  const url = page.getByLabel('Patient-facing URL');
  const check = page.locator('#section-setup').getByRole('button', { name: 'Check link' }).first();
  await url.fill(`${BASE}/p/lakeside/`);
  await check.click();
  await page.locator('#url-patient-verify', { hasText: 'The link works: it opens a page.' }).waitFor();
  await url.fill(`${BASE}/no/such/page`);
  await check.click();
  await page.locator('#url-patient-verify', { hasText: 'The link does not work: the site says there is no such page.' }).waitFor();
  await url.fill('');
  await ctx.close();
});
