// A forgotten password in Debian's Chromium: the patient asks from the login page (the answer
// never says whether the account exists), opens the emailed link, chooses a new password (the
// token leaves the address at once), logs in with it; the same link does not work twice. Jamie's
// demo password is put back at the end (other test files log in with it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE, VIEWPORTS, audit, launch, patientLogin, practice, screen } from './helpers.mjs';

const lakeside = practice('lakeside');
const jamie = lakeside.patients.find((p) => p.username === 'jamie.morgan');
const OUTBOX = join(process.env.PORTAL_DATA_DIR, 'outbox');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** A mail's plain-text part, its base64 undone. */
function textPart(raw) {
  const m = raw.match(/Content-Type: text\/plain[^\n]*\r?\nContent-Transfer-Encoding: base64\r?\n\r?\n([A-Za-z0-9+/=\r\n]+)/);
  return m ? Buffer.from(m[1].replace(/\s/g, ''), 'base64').toString('utf8') : raw;
}

/** The reset links mailed to `to`, oldest first. */
function links(to) {
  return readdirSync(OUTBOX).sort().filter((f) => f.endsWith('.eml'))
    .map((f) => readFileSync(join(OUTBOX, f), 'utf8'))
    .filter((m) => m.includes(`To: ${to}`))
    .map((m) => (textPart(m).match(/(https?:\/\/\S+#reset=[A-Za-z0-9._-]+)/) || [])[1])
    .filter(Boolean);
}

async function newLink(to, before) {
  for (let i = 0; i < 50; i += 1) {
    const all = links(to);
    if (all.length > before) return all[all.length - 1];
    await new Promise((r) => setTimeout(r, 100));
  }
  return assert.fail('no reset link arrived');
}

async function resetBy(page, who, password) {
  const before = links('jamie.morgan@example.com').length;
  await page.goto(`${BASE}/p/lakeside/`);
  await page.getByRole('button', { name: 'Forgot your password?' }).click();
  await page.getByLabel('Username or email').fill(who);
  await page.getByRole('button', { name: 'Email me a link' }).click();
  await page.getByText('If that username or email is known to the office').waitFor();
  const link = await newLink('jamie.morgan@example.com', before);
  assert.ok(link.startsWith(`${BASE}/p/lakeside/#reset=`), link);
  await page.goto(link);
  await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
  assert.ok(!page.url().includes('reset='), 'the token is gone from the address');
  await page.locator('#reset-form').getByLabel('New password', { exact: true }).fill(password);
  await page.locator('#reset-form').getByLabel('New password again').fill(password);
  await page.getByRole('button', { name: 'Save password' }).click();
  await page.getByText('Your new password is saved. Log in with it.').waitFor();
  return link;
}

test('a patient who forgot their password chooses a new one through the emailed link', async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.phone });
  const page = await ctx.newPage();
  // Unknown and known: the same words.
  await page.goto(`${BASE}/p/lakeside/`);
  await page.getByRole('button', { name: 'Forgot your password?' }).click();
  await page.getByLabel('Username or email').fill('nobody.here');
  await page.getByRole('button', { name: 'Email me a link' }).click();
  const answer = page.locator('#forgot-status');
  await answer.getByText('If that username or email is known to the office').waitFor();
  await screen(page, 'patient-forgot');
  await audit(page, 'forgot password');

  const link = await resetBy(page, 'Jamie.Morgan@example.com', 'a lighthouse at low tide');
  await patientLogin(page, 'lakeside', { username: jamie.username, password: 'a lighthouse at low tide' });
  await page.locator('#home-view').waitFor({ state: 'visible' });
  await page.getByRole('button', { name: /Log out|Cerrar sesión/ }).click();

  // The link works once (opened again, as from the email: a new tab).
  const again = await ctx.newPage();
  await again.goto(link);
  await again.locator('#reset-form').getByLabel('New password', { exact: true }).fill('another long passphrase');
  await again.locator('#reset-form').getByLabel('New password again').fill('another long passphrase');
  await again.getByRole('button', { name: 'Save password' }).click();
  await again.getByText('This link has expired or was used already.').waitFor();
  await again.close();

  // Jamie's demo password back, for the other files.
  await resetBy(page, jamie.username, jamie.password);
  await patientLogin(page, 'lakeside', jamie);
  await page.locator('#home-view').waitFor({ state: 'visible' });
  await ctx.close();
});
