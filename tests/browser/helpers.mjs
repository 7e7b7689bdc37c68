// Shared by the browser tests: the running portal-local (PORTAL_URL, PORTAL_DATA_DIR from
// tests/run), its demo logins, Debian's Chromium, and the TOTP codes a staff member's app shows.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = process.env.PORTAL_URL;
const DATA = process.env.PORTAL_DATA_DIR;
assert.ok(BASE && DATA, 'PORTAL_URL and PORTAL_DATA_DIR must be set (tests/run sets them)');

/** The demo practice with this id, from demo-logins.json. */
export function practice(id) {
  return JSON.parse(readFileSync(join(DATA, 'demo-logins.json'), 'utf8')).practices.find((p) => p.practiceId === id);
}

/** RFC 6238 code, as an authenticator app would show it. */
export function totp(secretB32, offsetSteps = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secretB32.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + offsetSteps));
  const mac = createHmac('sha1', key).update(counter).digest();
  const o = mac[19] & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}

/** Headless Chromium with the flags this machine needs; playwright gives it a fresh profile. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/** Where a staff session's cookie is kept for the other test files (each file is its own
 * process; the data folder is this run's own). */
const sessionFile = (practiceId) => join(DATA, `browser-staff-session-${practiceId}.json`);

/** Logs a staff member in on the admin page. Each TOTP code is good once, so the test files share
 * one session per practice (its cookie in the data folder) and log in again only when it has
 * ended — trying the codes of the current, next and previous steps (all within the allowed
 * drift; another file may have used one), then waiting for the next step's code. */
export async function staffLogin(page, p) {
  if (existsSync(sessionFile(p.practiceId))) {
    await page.context().addCookies(JSON.parse(readFileSync(sessionFile(p.practiceId), 'utf8')));
    await page.goto(`${BASE}/admin/`);
    await page.waitForFunction(() => !document.getElementById('staff-view').hidden || !document.getElementById('login-view').hidden);
    if (await page.locator('#staff-view').isVisible()) return;
    await page.context().clearCookies();
  }
  await page.goto(`${BASE}/admin/?practice=${p.practiceId}`);
  await page.getByRole('heading', { name: 'Staff log in' }).waitFor();
  const form = page.locator('#login-form');
  for (const offset of [0, 1, -1, 'next', 'next']) {
    if (offset === 'next') await new Promise((r) => setTimeout(r, 30_000 - (Date.now() % 30_000) + 500));
    await form.getByLabel('Username').fill(p.staff.username);
    await form.getByLabel('Password', { exact: true }).fill(p.staff.password);
    await form.getByLabel('Authenticator code').fill(totp(p.staff.totpSecret, offset === 'next' ? 0 : offset));
    const answered = page.waitForResponse((r) => r.url().endsWith('/v1/staff/login'));
    await page.getByRole('button', { name: 'Log in' }).click();
    if ((await answered).ok()) {
      await page.locator('#staff-view').waitFor({ state: 'visible' });
      writeFileSync(sessionFile(p.practiceId), JSON.stringify(await page.context().cookies()));
      return;
    }
  }
  assert.fail('staff login failed with every nearby TOTP code');
}

/** The two screen sizes every screen is checked and photographed at. */
export const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };

/** Where screenshots go (tests/run names the folder; not committed). */
export const SHOTS = process.env.PORTAL_SCREENSHOTS || join(process.env.TMPDIR || '/tmp', 'portal-screenshots');
mkdirSync(SHOTS, { recursive: true });

/** Checks that nothing on the screen is wider than the viewport, then photographs it. */
export async function screen(page, name) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
  assert.ok(scrollWidth <= innerWidth, `${name}: the page is ${scrollWidth}px wide in a ${innerWidth}px viewport`);
  await page.screenshot({ path: join(SHOTS, `${name}-${innerWidth}.png`), fullPage: true });
}

/** Logs a patient in at their practice's own address. */
/** Logs a patient in on their practice's page, in whatever language it shows; with `keepAddress`
 * on the page already open (e.g. at a view's address). */
export async function patientLogin(page, practiceId, patient, { keepAddress = false } = {}) {
  if (!keepAddress) await page.goto(`${BASE}/p/${practiceId}/`);
  await page.locator('#login-view').waitFor({ state: 'visible' });
  await page.locator('#login-username').fill(patient.username);
  await page.locator('#login-password').fill(patient.password);
  await page.locator('#login-form button[type=submit]').click();
}

/** The names of the portal's views, in order (on a phone too, where some are under "More"). */
export async function viewNames(page) {
  await page.locator('#home-view').waitFor({ state: 'visible' });
  return page.locator('#view-list a').evaluateAll((links) => links.map((a) => a.textContent));
}

/** The view open now, by its name in the navigation. */
export const currentView = (page) => page.locator('#view-list a[aria-current=page]').textContent();

/** Opens a view from the navigation as a person would: on a phone, through "More" when it is not
 * on the bottom bar. Answers its panel. */
export async function openView(page, name) {
  await page.locator('#view-list a').first().waitFor();
  const nav = page.locator('nav.views');
  const named = { name, exact: typeof name === 'string' };
  if (!(await nav.getByRole('link', named).count())) await nav.locator('#more').click();
  const link = nav.getByRole('link', named);
  const key = await link.getAttribute('data-view');
  await link.click();
  const panel = page.locator(`#panel-${key}`);
  await panel.waitFor({ state: 'visible' });
  return panel;
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Runs axe-core in the page (evaluated through the DevTools protocol, so the page's CSP stays
 * on); serious and critical violations fail. */
export async function audit(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), [], `${name}`);
}
