// The portal as people live with it: views with their own addresses (Back, Forward, a link that
// opens a view after sign-in), a layout where every view fits, whose records are open, and a
// session that ends without losing what was typed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE, VIEWPORTS, audit, currentView, launch, openView, patientLogin, practice, screen, staffLogin, totp } from './helpers.mjs';

const lakeside = practice('lakeside');
const alex = lakeside.patients.find((p) => p.username === 'alex.morgan');
const jamie = lakeside.patients.find((p) => p.username === 'jamie.morgan');

/** A mail's text part, decoded (the outbox keeps mails as sent: base64). */
function textOf(raw) {
  const body = raw.split('Content-Type: text/plain')[1].split('\r\n\r\n')[1].split('\r\n--')[0];
  return Buffer.from(body.replace(/\r\n/g, ''), 'base64').toString('utf8');
}

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

for (const [size, viewport] of Object.entries(VIEWPORTS)) {
  test(`${size}: each view has its own address; Back and Forward move between views; a link opens its view after sign-in`, async () => {
    const ctx = await browser.newContext({ viewport, locale: 'en-US' });
    const page = await ctx.newPage();
    // A link from an email, before signing in: the login page, then that view.
    await page.goto(`${BASE}/p/lakeside/#/appointments`);
    await patientLogin(page, 'lakeside', alex, { keepAddress: true });
    await page.locator('#home-view').waitFor({ state: 'visible' });
    assert.equal(await currentView(page), 'Appointments');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'hello', 'focus moves to the page heading after sign-in');
    await screen(page, 'patient-deep-link');

    for (const name of [/^Messages/, 'Account', 'Treatment plans', 'Images & documents']) await openView(page, name);
    if (size === 'phone') await screen(page, 'patient-more-view');
    await page.goBack();
    assert.equal(await currentView(page), 'Treatment plans');
    await page.goBack();
    await page.goBack();
    assert.match(await currentView(page), /^Messages/);
    assert.equal(await page.evaluate(() => location.hash), '#/messages');
    await page.goForward();
    assert.equal(await currentView(page), 'Account');
    await page.locator('#panel-ModuleAccount h2').waitFor();
    // An address for no view is Home.
    await page.evaluate(() => { location.hash = '#/nothing-here'; });
    await page.waitForFunction(() => location.hash === '#/home');
    assert.equal(await currentView(page), 'Home');

    if (size === 'phone') {
      // The bottom bar holds Home, three views and More; More opens the rest and Escape closes it.
      assert.equal(await page.locator('#view-list a:visible').count(), 4);
      await page.getByRole('button', { name: 'More' }).click();
      assert.equal(await page.locator('#more').getAttribute('aria-expanded'), 'true');
      await screen(page, 'patient-more-open');
      await audit(page, 'more menu open');
      await page.keyboard.press('Escape');
      assert.ok(await page.locator('#more-list').isHidden());
    } else {
      assert.equal(await page.locator('#view-list a:visible').count(), 9, 'every view listed at the side, My account last');
    }
    await ctx.close();
  });

  test(`${size}: a guardian sees whose records are open in the header`, async () => {
    const ctx = await browser.newContext({ viewport, locale: 'en-US' });
    const page = await ctx.newPage();
    await patientLogin(page, 'lakeside', jamie);
    await page.locator('#home-view').waitFor({ state: 'visible' });
    assert.ok(await page.locator('#viewing').isHidden(), 'not shown for your own records');
    const child = (await page.getByLabel('Whose records to show').locator('option').allTextContents()).find((n) => n.includes('in your care'));
    assert.ok(child, 'Jamie has a child in their care');
    await page.getByLabel('Whose records to show').selectOption({ label: child });
    const name = child.replace(/ \(in your care\)$/, '');
    assert.equal(await page.locator('#viewing').textContent(), `Viewing the records of ${name}`);
    await screen(page, 'patient-viewing-child');
    await audit(page, 'viewing a child');
    await page.getByLabel('Language').selectOption('es');
    assert.equal(await page.locator('#viewing').textContent(), `Viewing the records of ${name}`.replace('Viewing the records of', 'Viendo los registros de'));
    if (size === 'desktop') {
      // A message Jamie writes for the child says so, to Jamie and to the office.
      await page.getByLabel('Idioma').selectOption('en');
      await openView(page, /^Messages/);
      await page.getByRole('button', { name: 'New message' }).click();
      const subject = `Written for ${name} ${Date.now()}`;
      await page.getByLabel('Subject', { exact: true }).fill(subject);
      await page.getByLabel('Message', { exact: true }).fill('A bracket came off.');
      await page.getByRole('button', { name: 'Send' }).click();
      await page.locator('ol.thread .meta', { hasText: `Jamie Morgan (for ${name}) to ` }).waitFor();
      const staff = await (await browser.newContext({ viewport })).newPage();
      await staffLogin(staff, lakeside);
      await staff.getByRole('link', { name: 'Messages' }).click();
      await staff.locator('#mail-items li', { hasText: subject }).getByText(`From Jamie Morgan (for ${name}) to `).waitFor();
      await staff.context().close();
    }
    await ctx.close();
  });
}

test('a session that ends mid-message: the page asks to sign in again, keeps the draft and sends it once', async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.phone, locale: 'en-US' });
  const page = await ctx.newPage();
  await patientLogin(page, 'lakeside', alex);
  await openView(page, /^Messages/);
  await page.getByRole('button', { name: 'New message' }).click();
  const subject = `Signed out mid-message ${Date.now()}`;
  await page.getByLabel('Subject', { exact: true }).fill(subject);
  await page.getByLabel('Message', { exact: true }).fill('Typed before the session ended.');
  // Logged out somewhere else (the same browser's cookie).
  await page.evaluate(() => fetch('/v1/auth/logout', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }));
  await page.getByRole('button', { name: 'Send' }).click();
  const dialog = page.getByRole('dialog', { name: 'You were signed out — sign in again' });
  await dialog.waitFor();
  assert.equal(await page.locator('main').evaluate((m) => getComputedStyle(m).visibility), 'hidden', 'health data is not left on the screen');
  assert.equal(await page.getByLabel('Message', { exact: true }).inputValue(), 'Typed before the session ended.', 'the draft is kept');
  assert.match(await dialog.textContent(), new RegExp(`Signing in as ${alex.username}`));
  await screen(page, 'patient-signed-out');
  await audit(page, 'signed out dialog');
  await page.keyboard.press('Escape');
  assert.ok(await dialog.isVisible(), 'Escape does not dismiss it');
  await dialog.getByLabel('Password', { exact: true }).fill('not the password');
  await dialog.getByRole('button', { name: 'Sign in' }).click();
  await dialog.getByText('That username and password do not match').waitFor();
  await dialog.getByLabel('Password', { exact: true }).fill(alex.password);
  await dialog.getByRole('button', { name: 'Sign in' }).click();
  // Signed in again: the message that was being sent is sent, once.
  await page.locator('ol.thread .body', { hasText: 'Typed before the session ended.' }).waitFor();
  assert.ok(await dialog.isHidden());
  assert.equal(await page.locator('main').evaluate((m) => getComputedStyle(m).visibility), 'visible');
  const sent = await page.evaluate(async (s) => {
    const r = await fetch('/v1/webmail/messages?folder=sent&limit=50');
    return (await r.json()).items.filter((m) => m.subject === s).length;
  }, subject);
  assert.equal(sent, 1);
  await ctx.close();
});

test('a minute before the idle timeout the page offers to stay signed in; left alone it signs out and says so', async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop, locale: 'en-US' });
  const page = await ctx.newPage();
  await page.clock.install();
  await patientLogin(page, 'lakeside', alex);
  await page.locator('#home-view').waitFor({ state: 'visible' });
  await page.getByLabel('Language').selectOption('es');
  const idleSeconds = (await page.evaluate(() => fetch('/v1/session').then((r) => r.json()))).idleSeconds;
  assert.ok(idleSeconds > 60 && idleSeconds <= 15 * 60, `${idleSeconds}`);
  // Every answer counts as activity: let the page's own requests finish first.
  await page.waitForLoadState('networkidle');
  await page.clock.fastForward((idleSeconds - 50) * 1000);
  const warning = page.getByRole('dialog', { name: '¿Sigue ahí?' });
  await warning.waitFor();
  await screen(page, 'patient-idle-warning-es');
  await audit(page, 'idle warning');
  await warning.getByRole('button', { name: 'Seguir conectado' }).click();
  await warning.waitFor({ state: 'hidden' });
  // Left alone this time: the warning, then signed out, here and on the server.
  await page.clock.fastForward((idleSeconds + 5) * 1000);
  await page.getByRole('dialog', { name: 'Se cerró su sesión: vuelva a iniciarla' }).waitFor();
  await page.waitForFunction(() => fetch('/v1/session').then((r) => r.json()).then((s) => !s.authenticated));
  await ctx.close();
});

test('staff: a save after the session ended asks to sign in again, then saves what was typed', async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop });
  const page = await ctx.newPage();
  await staffLogin(page, lakeside);
  const form = page.locator('#webmail-form');
  await form.waitFor();
  const subject = form.getByLabel('Email subject', { exact: true });
  const original = await subject.inputValue();
  const typed = `${original} (${Date.now() % 1000})`;
  await subject.fill(typed);
  await page.evaluate(() => fetch('/v1/auth/logout', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }));
  await form.getByRole('button', { name: 'Save' }).click();
  const dialog = page.getByRole('dialog', { name: 'You were signed out — sign in again' });
  await dialog.waitFor();
  await screen(page, 'staff-signed-out');
  await dialog.getByLabel('Password', { exact: true }).fill(lakeside.staff.password);
  for (const offset of [0, 1, -1]) {
    await dialog.getByLabel('Authenticator code').fill(totp(lakeside.staff.totpSecret, offset));
    const answered = page.waitForResponse((r) => r.url().endsWith('/v1/staff/login'));
    await dialog.getByRole('button', { name: 'Sign in' }).click();
    if ((await answered).ok()) break;
    await dialog.getByLabel('Password', { exact: true }).fill(lakeside.staff.password);
  }
  await form.getByText('Saved.').waitFor();
  assert.equal(await subject.inputValue(), typed);
  await subject.fill(original);
  await form.getByRole('button', { name: 'Save' }).click();
  await form.getByText('Saved.').waitFor();
  // The other test files share this practice's staff session: hand them the new one.
  writeFileSync(join(process.env.PORTAL_DATA_DIR, 'browser-staff-session-lakeside.json'), JSON.stringify(await ctx.cookies()));
  await ctx.close();
});

test('My account: a password change signs every other device out and emails a notice; the username is remembered only when asked', async () => {
  const here = await (await browser.newContext({ viewport: VIEWPORTS.phone, locale: 'en-US' })).newPage();
  const there = await (await browser.newContext({ viewport: VIEWPORTS.desktop, locale: 'en-US' })).newPage();
  await patientLogin(there, 'lakeside', jamie);
  await there.locator('#home-view').waitFor({ state: 'visible' });
  // Remembered on this device only when asked.
  await here.goto(`${BASE}/p/lakeside/`);
  await here.locator('#login-username').fill(jamie.username);
  await here.locator('#login-password').fill(jamie.password);
  await here.getByLabel('Remember my username on this device').check();
  await here.locator('#login-form button[type=submit]').click();
  await here.locator('#home-view').waitFor({ state: 'visible' });

  const mine = await openView(here, 'My account');
  await mine.getByText(`You sign in as ${jamie.username}.`).waitFor();
  // A new mobile number goes to the office and waits for its record.
  assert.equal(await mine.getByLabel('Mobile phone').inputValue(), '(269) 555-0178');
  await mine.getByLabel('Mobile phone').fill('555 01');
  await mine.getByRole('button', { name: 'Send to the office' }).click();
  await mine.getByText('Enter a phone number of at least 7 digits').waitFor();
  await mine.getByLabel('Mobile phone').fill('(269) 555-0188');
  await mine.getByRole('button', { name: 'Send to the office' }).click();
  await mine.getByText('Sent to the office. It shows as waiting until they update your record.').waitFor();
  await mine.getByText('Waiting for the office to update your record: Mobile phone: (269) 555-0188.').waitFor();
  // The language chosen in the header becomes Jamie's at the office too (emails follow it); the
  // waiting mobile number stays waiting.
  await here.locator('#language').selectOption('es');
  await mine.getByText(/Idioma de los correos: Español/).waitFor();
  assert.match(await mine.getByText(/Idioma de los correos: Español/).textContent(), /\(269\) 555-0188/);
  await here.locator('#language').selectOption('en');
  await mine.getByText('Waiting for the office to update your record: Mobile phone: (269) 555-0188.').waitFor();
  await screen(here, 'patient-my-account');
  await audit(here, 'my account');
  const changed = 'a quiet harbour at dawn';
  for (const [from, to] of [[jamie.password, changed], [changed, jamie.password]]) {
    await mine.getByLabel('Current password').fill(from);
    await mine.getByLabel('New password', { exact: true }).fill(to);
    await mine.getByLabel('New password again').fill(to);
    const answered = here.waitForResponse((r) => r.url().endsWith('/v1/auth/password'));
    await mine.getByRole('button', { name: 'Save password' }).click();
    assert.equal((await answered).status(), 200);
    await mine.getByText('Your password is changed. Every other device was signed out').waitFor();
    if (from === jamie.password) {
      // The other device is signed out at its next request.
      await there.reload();
      await there.locator('#login-view').waitFor({ state: 'visible' });
    }
  }
  const notices = readdirSync(join(process.env.PORTAL_DATA_DIR, 'outbox')).filter((f) => f.endsWith('.eml'))
    .map((f) => readFileSync(join(process.env.PORTAL_DATA_DIR, 'outbox', f), 'utf8'))
    .filter((m) => m.includes('To: jamie.morgan@example.com')).map(textOf).filter((text) => text.includes('password was changed'));
  assert.equal(notices.length, 2, 'one notice per change');
  await here.getByRole('button', { name: 'Log out' }).click();
  await here.locator('#login-view').waitFor({ state: 'visible' });
  assert.equal(await here.locator('#login-username').inputValue(), jamie.username, 'remembered, as asked');
  await here.locator('#login-remember').uncheck();
  await here.locator('#login-password').fill(jamie.password);
  await here.locator('#login-form button[type=submit]').click();
  await here.locator('#home-view').waitFor({ state: 'visible' });
  await here.getByRole('button', { name: 'Log out' }).click();
  await here.locator('#login-view').waitFor({ state: 'visible' });
  assert.equal(await here.locator('#login-username').inputValue(), '', 'not remembered once unticked');
  await here.context().close();
  await there.context().close();
});

test('every control shows a focus ring of at least 3:1 against what is around it, at both sizes', async () => {
  for (const viewport of Object.values(VIEWPORTS)) {
    const ctx = await browser.newContext({ viewport, locale: 'en-US' });
    const page = await ctx.newPage();
    await patientLogin(page, 'lakeside', alex);
    await page.locator('#panel-home ul.todos').waitFor();
    await page.locator('#hello').focus();
    const seen = [];
    for (let i = 0; i < 25; i += 1) {
      await page.keyboard.press('Tab');
      seen.push(await page.evaluate(() => {
        const e = document.activeElement;
        const style = getComputedStyle(e);
        const rgb = (c) => (c.match(/[\d.]+/g) || []).slice(0, 4).map(Number);
        const luminance = ([r, g, b]) => [r, g, b].map((v) => v / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
          .reduce((sum, v, k) => sum + v * [0.2126, 0.7152, 0.0722][k], 0);
        // What the ring is drawn against: the nearest background that is not transparent.
        let around = e.parentElement;
        while (around && rgb(getComputedStyle(around).backgroundColor)[3] === 0) around = around.parentElement;
        const [ring, bg] = [rgb(style.outlineColor), rgb(around ? getComputedStyle(around).backgroundColor : 'rgb(255,255,255)')];
        const [a, b] = [luminance(ring), luminance(bg)].sort((x, y) => y - x);
        return { what: `${e.tagName} ${e.id || e.textContent.trim().slice(0, 30)}`, width: parseFloat(style.outlineWidth), contrast: (a + 0.05) / (b + 0.05) };
      }));
    }
    const weak = seen.filter((s) => s.width < 2 || s.contrast < 3);
    assert.deepEqual(weak, [], JSON.stringify(seen));
    await ctx.close();
  }
});

test('Contact us is on every screen, from the practice settings staff keep; Appointments gives the address', async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.phone, locale: 'en-US' });
  const page = await ctx.newPage();
  await page.goto(`${BASE}/p/lakeside/`);
  await page.getByRole('button', { name: 'Contact us' }).click();
  const dialog = page.getByRole('dialog', { name: 'Contact Lakeside Family Dental' });
  await dialog.waitFor();
  assert.equal(await dialog.getByRole('link', { name: '(269) 555-0100' }).getAttribute('href'), 'tel:2695550100');
  await dialog.getByText('120 Harbor Drive').waitFor();
  assert.match(await dialog.getByRole('link', { name: 'Map' }).getAttribute('href'), /^https:\/\/www\.google\.com\/maps\/search\/\?api=1&query=120%20Harbor%20Drive%2C%20Lakeside/);
  await dialog.getByText('Friday, 8 a.m. to noon').waitFor();
  await screen(page, 'patient-contact-us');
  await audit(page, 'contact us');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  await patientLogin(page, 'lakeside', alex);
  const appointments = await openView(page, 'Appointments');
  await appointments.getByText('Where: Lakeside Family Dental').waitFor();
  await appointments.getByText('120 Harbor Drive').waitFor();
  // Asking to reschedule: a note, one request, shown as asked.
  await appointments.getByRole('button', { name: /^Ask to reschedule: / }).first().click();
  await appointments.getByLabel(/^A note for the office/).fill('Mornings suit me better.');
  await screen(page, 'patient-ask-reschedule');
  await audit(page, 'ask to reschedule');
  await appointments.getByRole('button', { name: 'Send the request to reschedule' }).click();
  await appointments.getByText('Your request to reschedule went to the office.').waitFor();
  await appointments.getByText('Reschedule requested').waitFor();

  // Staff change the phone on Setup; the next visit shows it.
  const admin = await (await browser.newContext({ viewport: VIEWPORTS.desktop })).newPage();
  await staffLogin(admin, lakeside);
  const form = admin.locator('#contact-form');
  await form.getByLabel('Phone').fill('call us maybe');
  await form.getByRole('button', { name: 'Save' }).click();
  await form.getByText('The phone number is digits').waitFor();
  await form.getByLabel('Phone').fill('(269) 555-0199');
  await form.getByRole('button', { name: 'Save' }).click();
  await form.getByText('Saved.').waitFor();
  await page.reload();
  await page.getByRole('button', { name: 'Contact us' }).click();
  await page.getByRole('dialog').getByRole('link', { name: '(269) 555-0199' }).waitFor();
  await form.getByLabel('Phone').fill('(269) 555-0100');
  await form.getByRole('button', { name: 'Save' }).click();
  await form.getByText('Saved.').waitFor();
  await admin.context().close();
  await ctx.close();
});
