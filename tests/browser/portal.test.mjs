// Browser tests: Debian's Chromium driven by playwright-core against a running portal-local
// (PORTAL_URL, PORTAL_DATA_DIR set by tests/run). Every screen is checked for sideways scrolling
// and photographed at 1280×800 and 390×844 (into PORTAL_SCREENSHOTS).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, VIEWPORTS, audit, currentView, launch, openView, patientLogin, practice, screen, staffLogin, viewNames } from './helpers.mjs';

const lakeside = practice('lakeside');
const alex = lakeside.patients.find((p) => p.username === 'alex.morgan');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

for (const [size, viewport] of Object.entries(VIEWPORTS)) {
  test(`${size}: a patient opens their practice's address, logs in without typing a practice, and reads it in Spanish`, async () => {
    const ctx = await browser.newContext({ viewport, locale: 'en-US' });
    const page = await ctx.newPage();
    const failures = [];
    page.on('response', (r) => { if (r.status() >= 400) failures.push(`${r.status()} ${r.url()}`); });
    page.on('console', (m) => { if (m.type() === 'error') failures.push(m.text()); });
    await page.goto(`${BASE}/p/lakeside/`);
    await page.getByRole('heading', { name: 'Lakeside Family Dental' }).waitFor();
    await page.getByText("Welcome to Lakeside Family Dental's patient portal.").waitFor();
    assert.deepEqual(failures, [], 'a first visit makes no failed request and logs no error');
    assert.equal(await page.getByLabel(/Practice/).count(), 0, 'no practice field');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'login-username');
    // Show-password toggles.
    await page.locator('#login-form').getByLabel('Password', { exact: true }).fill('secret words');
    await page.getByRole('button', { name: 'Show' }).click();
    assert.equal(await page.locator('#login-form').getByLabel('Password', { exact: true }).getAttribute('type'), 'text');
    await page.getByRole('button', { name: 'Hide' }).click();
    assert.equal(await page.locator('#login-form').getByLabel('Password', { exact: true }).getAttribute('type'), 'password');
    await screen(page, 'patient-login');

    await patientLogin(page, 'lakeside', alex);
    const views = await viewNames(page);
    assert.deepEqual(views, ['Home', 'Payments', 'Account', 'Messages', 'Care summary', 'Images & documents', 'Appointments', 'Treatment plans', 'My account']);
    assert.equal(await currentView(page), 'Home', 'home is the default view');
    await page.getByRole('heading', { name: 'Hello, Alex Morgan' }).waitFor();
    // The family picker lists whom Alex may see, Alex first.
    const members = await page.getByLabel('Whose records to show').locator('option').allTextContents();
    assert.equal(members[0], 'Alex Morgan (you)');
    assert.ok(members.length > 1, `${members}`);
    assert.equal(await page.locator('.dashboard > li').count(), 7, 'one card per enabled feature');
    await screen(page, 'patient-home');
    // Every view's name fits whole in the navigation, on a phone through "More" for some.
    for (const link of await page.locator('#view-list a:visible, #more').all()) {
      assert.ok(await link.evaluate((a) => a.scrollWidth <= a.clientWidth + 1), `${await link.textContent()} is cut`);
    }
    const panel = await openView(page, 'Payments');
    await panel.getByRole('link', { name: 'Pay now' }).waitFor();
    assert.equal(await currentView(page), 'Payments');
    assert.equal(await page.evaluate(() => location.hash), '#/payments', 'the view has its own address');
    assert.equal(await panel.getAttribute('tabindex'), '-1', 'the panel takes focus when opened');
    await screen(page, 'patient-feature');

    // Spanish: labels and a Spanish date.
    await page.getByLabel('Language').selectOption('es');
    await openView(page, 'Inicio');
    await page.getByRole('heading', { name: 'Hola, Alex Morgan' }).waitFor();
    const today = await page.locator('#today').textContent();
    assert.match(today, /^Hoy es (lunes|martes|miércoles|jueves|viernes|sábado|domingo), \d{1,2} de [a-z]+ de \d{4}\.$/, today);
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'es');
    assert.ok((await viewNames(page)).includes('Citas'));
    await screen(page, 'patient-home-es');
    const citas = await openView(page, 'Citas');
    await citas.getByRole('heading', { name: 'Próximas' }).waitFor();
    assert.match(await citas.locator('li').first().textContent(), / de [a-z]+ de \d{4}/, 'dates in Spanish');
    await screen(page, 'patient-feature-es');
    // The choice stays on this device (a reload keeps Spanish); nothing else is kept in the browser.
    await page.reload();
    await page.getByRole('heading', { name: 'Hola, Alex Morgan' }).waitFor();
    assert.deepEqual(await page.evaluate(() => [document.cookie, Object.keys(localStorage), sessionStorage.length]), ['', ['portal.language'], 0]);
    await page.getByRole('button', { name: 'Cerrar sesión' }).click();
    await page.getByRole('heading', { name: 'Iniciar sesión' }).waitFor();
    await screen(page, 'patient-login-es');
    await ctx.close();
  });

  test(`${size}: staff screens fit the screen and the sync secret can be copied`, async () => {
    const ctx = await browser.newContext({ viewport, permissions: ['clipboard-read', 'clipboard-write'] });
    const page = await ctx.newPage();
    await page.goto(`${BASE}/admin/`);
    await page.getByRole('heading', { name: 'Staff log in' }).waitFor();
    await screen(page, 'staff-login');
    // At the practice's staff address the login names the practice and asks three things.
    await page.goto(`${BASE}/p/lakeside/staff/`);
    await page.getByText('Lakeside Family Dental', { exact: true }).waitFor();
    assert.ok(await page.getByLabel('Practice ID').isHidden());
    await screen(page, 'staff-login-at-address');
    await audit(page, `staff login at address ${size}`);
    await staffLogin(page, lakeside);
    await page.getByText(`${BASE}/p/lakeside/`, { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Copy link' }).click();
    await page.getByText('Link copied.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${BASE}/p/lakeside/`);
    assert.ok(await page.getByRole('checkbox', { name: 'Payments' }).isVisible(), 'plain feature labels');
    await screen(page, 'staff-setup');
    await page.getByRole('link', { name: 'Practice system' }).click();
    await page.getByRole('heading', { name: 'Practice system connection' }).waitFor();
    await page.getByLabel('Name of the new key').fill(`Server ${size}`);
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('Copy this secret now').waitFor();
    const secret = (await page.locator('#sync-secret-value').textContent()).trim();
    assert.match(secret, /^[0-9a-f]{64}$/);
    await page.getByRole('button', { name: 'Copy secret' }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    const first = page.locator('#sync-keys > li').first();
    assert.match(await first.textContent(), new RegExp(`Server ${size}.*last used never.*Active`));
    assert.ok(!(await page.locator('#sync-keys').textContent()).includes(secret));
    await page.locator('#sync-keys > li', { hasText: 'Demo practice server' }).getByText(/last used \d/).waitFor();
    await screen(page, 'staff-connection');
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: `Revoke Server ${size}` }).click();
    await page.getByText('Key revoked.').waitFor();
    assert.ok(await page.locator('#sync-secret').isHidden(), 'the secret goes with the revoke');
    await page.locator('#sync-keys > li').last().getByText('Revoked').waitFor();
    await page.getByRole('link', { name: 'Activity' }).click();
    await page.locator('#audit-entries > li').first().waitFor();
    await page.getByText(`Made sync key "Server ${size}"`).waitFor();
    await screen(page, 'staff-activity');
    await ctx.close();
  });
}

test('a double click on Log in sends one login', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${BASE}/p/lakeside/`);
  await page.locator('#login-form').getByLabel('Username', { exact: true }).fill(alex.username);
  await page.locator('#login-form').getByLabel('Password', { exact: true }).fill(alex.password);
  let logins = 0;
  page.on('request', (r) => { if (r.url().endsWith('/v1/auth/login')) logins += 1; });
  await page.route('**/v1/auth/login', async (route) => { await new Promise((r) => setTimeout(r, 300)); await route.continue(); });
  await page.getByRole('button', { name: 'Log in' }).dblclick();
  await viewNames(page);
  assert.equal(logins, 1);
  await ctx.close();
});

test('staff untick Messages: the patient page drops it, WebMail answers 403, and the activity says so in words', async () => {
  const patientCtx = await browser.newContext();
  const patient = await patientCtx.newPage();
  await patientLogin(patient, 'lakeside', lakeside.patients.find((p) => !p.temporary));
  assert.ok((await viewNames(patient)).includes('Messages'));
  const staffCtx = await browser.newContext();
  const admin = await staffCtx.newPage();
  await staffLogin(admin, lakeside);
  await admin.getByRole('checkbox', { name: 'Messages' }).uncheck();
  await admin.getByText('Unsaved changes').first().waitFor();
  await admin.locator('#features-form').getByRole('button', { name: 'Save' }).click();
  await admin.locator('#features-form').getByText('Saved.').waitFor();
  assert.ok(await admin.locator('#features-form .dirty').isHidden());
  await patient.reload();
  const tabs = await viewNames(patient);
  assert.ok(!tabs.includes('Messages'), `${tabs}`);
  assert.equal(await patient.evaluate(() => fetch('/v1/webmail/messages').then((r) => r.status)), 403);
  // The activity screen, filtered to settings changes, says what changed.
  await admin.getByRole('link', { name: 'Activity' }).click();
  await admin.getByLabel('What').selectOption('settings');
  await admin.getByRole('button', { name: 'Show', exact: true }).click();
  await admin.getByText('Turned off: Messages.').first().waitFor();
  await admin.getByRole('link', { name: 'Setup' }).click();
  await admin.getByRole('checkbox', { name: 'Messages' }).check();
  await admin.locator('#features-form').getByRole('button', { name: 'Save' }).click();
  await admin.locator('#features-form').getByText('Saved.').waitFor();
  // The WebMail form says what is wrong before saving.
  await admin.getByLabel('Email text', { exact: true }).fill('No link in this body');
  await admin.getByText('The email text must contain [URL].').waitFor();
  assert.ok(await admin.locator('#webmail-submit').isDisabled());
  await patientCtx.close();
  await staffCtx.close();
});

test('a conflict on one settings section keeps the typing in it and in every other section', async () => {
  const oneCtx = await browser.newContext();
  const one = await oneCtx.newPage();
  await staffLogin(one, lakeside);
  const twoCtx = await browser.newContext();
  const two = await twoCtx.newPage();
  await staffLogin(two, lakeside);
  // One types in two sections without saving; two saves features meanwhile.
  await one.getByLabel('Practice website URL').fill('https://lakeside.example/');
  await one.getByLabel('Treatment plans').uncheck();
  await two.getByLabel('Images & documents').uncheck();
  await two.locator('#features-form').getByRole('button', { name: 'Save' }).click();
  await two.locator('#features-form').getByText('Saved.').waitFor();
  // One saves features: a conflict that names what is stored now, and keeps one's ticks.
  await one.locator('#features-form').getByRole('button', { name: 'Save' }).click();
  await one.getByText(/Someone else saved this section while you were editing/).waitFor();
  assert.match(await one.locator('#features-form > .status').textContent(), /turned on: .*Treatment plans/);
  assert.equal(await one.getByLabel('Treatment plans').isChecked(), false, 'the typing in the conflicting section stays');
  assert.equal(await one.getByLabel('Images & documents').isChecked(), true);
  assert.equal(await one.getByLabel('Practice website URL').inputValue(), 'https://lakeside.example/', 'another section keeps its input');
  // The URL section still saves (its version did not move), and a second Save of features wins.
  await one.locator('#urls-form').getByRole('button', { name: 'Save' }).click();
  await one.locator('#urls-form').getByText('Saved.').waitFor();
  await one.locator('#features-form').getByRole('button', { name: 'Save' }).click();
  await one.locator('#features-form').getByText('Saved.').waitFor();
  for (const label of ['Treatment plans', 'Images & documents']) await one.getByLabel(label).check();
  await one.locator('#features-form').getByRole('button', { name: 'Save' }).click();
  await one.locator('#features-form').getByText('Saved.').waitFor();
  await oneCtx.close();
  await twoCtx.close();
});

test('a patient with a temporary password must choose a new one first, in their own language', async () => {
  const ctx = await browser.newContext({ locale: 'en-US' });
  const page = await ctx.newPage();
  // Sam's preferred language is Spanish: the page switches to it as soon as Sam is known.
  await patientLogin(page, 'lakeside', lakeside.patients.find((p) => p.temporary));
  await page.getByRole('heading', { name: 'Elija su propia contraseña' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'es');
  await screen(page, 'patient-new-password');
  assert.equal(await page.evaluate(() => fetch('/v1/account').then((r) => r.status)), 403);
  const form = page.locator('#password-form');
  await form.getByLabel('Contraseña nueva', { exact: true }).fill('password123');
  await form.getByLabel('Repita la contraseña nueva').fill('password123');
  await page.getByRole('button', { name: 'Guardar contraseña' }).click();
  await page.getByText('demasiado común').waitFor();
  await form.getByLabel('Contraseña nueva', { exact: true }).fill('blue harbour morning tide');
  await form.getByLabel('Repita la contraseña nueva').fill('blue harbour morning tide');
  await page.getByRole('button', { name: 'Guardar contraseña' }).click();
  assert.ok((await viewNames(page)).length > 1);
  await ctx.close();
});

test('wrong credentials: a patient message that mentions no code, and no session', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await patientLogin(page, 'lakeside', { username: 'nobody.here', password: 'not a password' });
  const message = page.getByText('That username and password do not match');
  await message.waitFor();
  assert.doesNotMatch(await message.textContent(), /code/i);
  assert.equal(await page.evaluate(() => fetch('/v1/session').then((r) => r.json()).then((s) => s.authenticated)), false);
  await page.goto(`${BASE}/p/no-such-practice/`);
  await page.getByRole('heading', { name: 'This portal address is not in use' }).waitFor();
  await page.goto(`${BASE}/?practice=lakeside`);
  await page.waitForURL(`${BASE}/p/lakeside/`);
  await ctx.close();
});

test('staff choose family access; the guarantor then sees only themself and minors in their care', async () => {
  const staffCtx = await browser.newContext();
  const admin = await staffCtx.newPage();
  await staffLogin(admin, lakeside);
  await admin.getByLabel('Everyone sees only their own records').check();
  await admin.locator('#family-form').getByRole('button', { name: 'Save' }).click();
  await admin.locator('#family-form').getByText('Saved.').waitFor();
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await patientLogin(page, 'lakeside', alex);
  await viewNames(page);
  const members = await page.getByLabel('Whose records to show').locator('option').allTextContents();
  assert.equal(members.length, 2, `${members}`);
  assert.match(members[1], /\(in your care\)$/);
  await admin.getByLabel('The guarantor sees the whole family').check();
  await admin.locator('#family-form').getByRole('button', { name: 'Save' }).click();
  await admin.locator('#family-form').getByText('Saved.').waitFor();
  await ctx.close();
  await staffCtx.close();
});
