// Payments in Debian's Chromium with the built-in test processor (the demo's Lakeside takes
// payments through it): Alex goes from the Account tab's Pay to the Payments tab, pays $50 on the
// test processor's own page, comes back to the receipt, finds the receipt mail and the payment
// "being posted" on the account; a declined card shows a clear message. Runs after
// modules.test.mjs (files run in name order), which checks the demo's balance before any payment.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, VIEWPORTS, audit, launch, patientLogin, practice, screen } from './helpers.mjs';

const lakeside = practice('lakeside');
const alex = lakeside.patients.find((p) => p.username === 'alex.morgan');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function loggedIn(viewport) {
  const ctx = await browser.newContext({ viewport, locale: 'en-US' });
  const page = await ctx.newPage();
  const failures = [];
  page.on('response', (r) => { if (r.status() >= 500) failures.push(`${r.status()} ${r.url()}`); });
  page.on('console', (m) => { if (m.type() === 'error') failures.push(m.text()); });
  await patientLogin(page, 'lakeside', alex);
  await page.locator('#home-view').waitFor({ state: 'visible' });
  return { ctx, page, failures };
}

/** Starts a payment of `amount` from the Payments tab; answers once the test processor's page is open. */
async function payOnTestProcessor(page, amount) {
  const panel = page.locator('#panel-MakePayments');
  await panel.getByLabel('Amount to pay (US$)').fill(amount);
  await panel.getByRole('button', { name: 'Continue to payment' }).click();
  await page.getByRole('heading', { name: 'Test payment — no money moves' }).waitFor();
}

test('a patient pays $50 on the test processor and gets a receipt on screen, by email and on the account', async () => {
  const { ctx, page, failures } = await loggedIn(VIEWPORTS.desktop);
  await page.getByRole('tab', { name: 'Account' }).click();
  await page.locator('#panel-ModuleAccount').getByRole('button', { name: 'Pay' }).click();
  const panel = page.locator('#panel-MakePayments');
  // The amount defaults to the patient portion of the balance.
  await panel.getByText('Amount due now: $292.00').waitFor();
  assert.equal(await panel.getByLabel('Amount to pay (US$)').inputValue(), '292.00');
  await screen(page, 'patient-payments');
  await audit(page, 'patient Payments');

  // Amounts the page refuses before anything is sent.
  await panel.getByLabel('Amount to pay (US$)').fill('0.50');
  await panel.getByRole('button', { name: 'Continue to payment' }).click();
  await panel.getByText('Enter an amount in dollars and cents, at least $1.00.').waitFor();

  await payOnTestProcessor(page, '50.00');
  assert.match(await page.locator('main').textContent(), /\$50\.00/);
  await page.getByRole('button', { name: 'Approve' }).click();
  // Back at the portal, on the Payments tab: the receipt, once the portal has heard from the processor.
  await panel.getByText('Payment received. Thank you!').waitFor();
  const receipt = await panel.locator('.receipt').textContent();
  assert.match(receipt, /\$50\.00/);
  assert.match(receipt, /Test card ending in 4242/);
  assert.equal(new URL(page.url()).hash, '', 'the payment id is taken out of the address');
  await panel.getByRole('button', { name: 'Print receipt' }).waitFor();
  await audit(page, 'patient payment receipt');
  await screen(page, 'patient-payment-receipt');

  // The receipt mail: practice, amount, the card's last four; no card number.
  let mail;
  for (let i = 0; i < 50 && !mail; i += 1) {
    const box = await (await fetch(`${BASE}/_local/outbox.json`)).json();
    mail = box.find((m) => m.subject === 'Payment receipt — Lakeside Family Dental' && m.to.includes('alex.morgan@example.com'));
    if (!mail) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(mail, 'a receipt was emailed');
  assert.match(mail.text, /Amount: \$50\.00/);
  assert.doesNotMatch(mail.raw, /4242 ?4242 ?4242 ?4242/);

  // The account shows it paid online and being posted, and the balance without it.
  await page.getByRole('tab', { name: 'Account' }).click();
  const account = page.locator('#panel-ModuleAccount');
  await account.getByText('Paid online — being posted').waitFor();
  await account.getByText('$362.00').first().waitFor();
  assert.deepEqual(failures, []);
  await ctx.close();
});

test('a declined card says so, and nothing is charged', async () => {
  const { ctx, page, failures } = await loggedIn(VIEWPORTS.phone);
  await page.getByRole('tab', { name: 'Payments' }).click();
  const panel = page.locator('#panel-MakePayments');
  await panel.getByLabel('Amount to pay (US$)').waitFor();
  await payOnTestProcessor(page, '25');
  await page.getByRole('button', { name: 'Decline' }).click();
  await panel.getByText(/The card was declined: The test card was declined\. Nothing was charged\./).waitFor();
  assert.doesNotMatch(await panel.textContent(), /null|undefined/);
  await screen(page, 'patient-payment-declined');
  await audit(page, 'patient payment declined');
  // The history shows it declined, beside the $50 paid before.
  await panel.getByText('Declined').first().waitFor();
  assert.deepEqual(failures, []);
  await ctx.close();
});
