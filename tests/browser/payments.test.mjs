// Payments in Debian's Chromium with the built-in test processor (the demo's Lakeside takes
// payments through it): Alex goes from the Account tab's Pay to the payment page, pays $50 on the
// test processor's own page, comes back to the receipt, finds the receipt mail, the payment in
// the Payments tab and "being posted" on the account; a declined card shows a clear message.
// Runs after modules.test.mjs (files run in name order), which checks the demo's balance before
// any payment.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, VIEWPORTS, audit, launch, openView, patientLogin, practice, screen, staffLogin } from './helpers.mjs';

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

/** On the payment page: pays `amount`; answers once the test processor's page is open. */
async function payOnTestProcessor(page, amount) {
  const form = page.locator('#amount-form');
  await form.getByLabel('Amount to pay (US$)').fill(amount);
  await form.getByRole('button', { name: 'Continue to payment' }).click();
  await page.getByRole('heading', { name: 'Test payment — no money moves' }).waitFor();
}

test('a patient pays $50 on the test processor and gets a receipt on screen, by email and on the account', async () => {
  const { ctx, page, failures } = await loggedIn(VIEWPORTS.desktop);
  // Home says what is due, with Pay.
  await page.locator('#panel-home').getByText('Amount due now: $292.00').waitFor();
  await openView(page, 'Account');
  await page.locator('#panel-ModuleAccount').getByRole('link', { name: 'Pay' }).click();
  // The payment page, at the practice's own address; the amount defaults to the patient portion.
  await page.waitForURL(`${BASE}/p/lakeside/pay`);
  await page.getByText('Amount due now: $292.00').waitFor();
  assert.equal(await page.getByLabel('Amount to pay (US$)').inputValue(), '292.00');
  await screen(page, 'patient-pay');
  await audit(page, 'patient payment page');

  // An amount the page refuses before anything is sent.
  await page.getByLabel('Amount to pay (US$)').fill('0.50');
  await page.getByRole('button', { name: 'Continue to payment' }).click();
  await page.getByText('Enter an amount in dollars and cents, at least $1.00.').waitFor();

  await payOnTestProcessor(page, '50.00');
  assert.match(await page.locator('main').textContent(), /\$50\.00/);
  await page.getByRole('button', { name: 'Approve' }).click();
  // Back on the payment page: the receipt, once the portal has heard from the processor.
  await page.getByText('Payment received. Thank you!').waitFor();
  const receipt = await page.locator('.receipt').textContent();
  assert.match(receipt, /Lakeside Family Dental/);
  assert.match(receipt, /\$50\.00/);
  assert.match(receipt, /Test card ending in 4242/);
  assert.equal(new URL(page.url()).hash, '', 'the payment id is taken out of the address');
  await page.getByRole('button', { name: 'Print receipt' }).waitFor();
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

  // Back in the portal: the payment in the history, and the account without it, being posted.
  await page.getByRole('link', { name: 'Back to the patient portal' }).click();
  await page.locator('#home-view').waitFor({ state: 'visible' });
  await openView(page, 'Payments');
  const payments = page.locator('#panel-MakePayments');
  await payments.getByText('Paid', { exact: true }).first().waitFor();
  await payments.getByText('Amount due now: $242.00').waitFor();
  await screen(page, 'patient-payments');
  await audit(page, 'patient Payments tab');
  await openView(page, 'Account');
  const account = page.locator('#panel-ModuleAccount');
  await account.getByText('Paid online — being posted').waitFor();
  await account.getByText('$362.00').first().waitFor();
  assert.deepEqual(failures, []);
  await ctx.close();
});

test('a declined card says so, and nothing is charged', async () => {
  const { ctx, page, failures } = await loggedIn(VIEWPORTS.phone);
  await page.goto(`${BASE}/p/lakeside/pay`);
  await page.getByLabel('Amount to pay (US$)').waitFor();
  await payOnTestProcessor(page, '25');
  await page.getByRole('button', { name: 'Decline' }).click();
  await page.getByText(/The card was declined: The test card was declined\. Nothing was charged\./).waitFor();
  await screen(page, 'patient-payment-declined');
  await audit(page, 'patient payment declined');
  assert.deepEqual(failures, []);
  await ctx.close();
});

test('a signed-out visitor is offered to pay without logging in, or to sign in', async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.phone, locale: 'en-US' });
  const page = await ctx.newPage();
  const res = await page.goto(`${BASE}/p/lakeside/pay`);
  // Only this page's policy names the card processor's origins.
  assert.match(res.headers()['content-security-policy'], /script-src 'self' \S+;/);
  const portal = await ctx.request.get(`${BASE}/p/lakeside/`);
  assert.match(portal.headers()['content-security-policy'], /script-src 'self';/);
  await page.getByLabel("Patient's first name").waitFor();
  assert.equal(await page.getByRole('link', { name: 'Or sign in to the patient portal.' }).getAttribute('href'), '/p/lakeside/');
  await ctx.close();
});

test('someone pays a bill without logging in: the same receipt whether or not the details matched a patient', async () => {
  for (const [first, shot] of [['Alex', 'guest-matched'], ['Alexa', 'guest-unmatched']]) {
    const ctx = await browser.newContext({ viewport: VIEWPORTS.phone, locale: 'en-US' });
    const page = await ctx.newPage();
    await page.goto(`${BASE}/p/lakeside/`);
    await page.getByRole('link', { name: 'Pay a bill without logging in' }).click();
    await page.waitForURL(`${BASE}/p/lakeside/pay`);
    await page.getByLabel("Patient's first name").fill(first);
    await page.getByLabel("Patient's last name").fill('Morgan');
    await page.getByLabel("Patient's date of birth").fill('1984-03-09');
    await page.getByLabel('Your email, for the receipt (optional)').fill('payer@example.com');
    await audit(page, 'guest payment page');
    await screen(page, `patient-pay-${shot}`);
    await payOnTestProcessor(page, '20.00');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByText('Payment received. Thank you!').waitFor();
    const receipt = await page.locator('.receipt').textContent();
    assert.match(receipt, /\$20\.00/);
    assert.doesNotMatch(receipt, /Morgan|Alex/, 'the receipt names nobody');
    assert.equal(new URL(page.url()).hash, '');
    await ctx.close();
  }
});

test('staff see the payments, refund part of one and assign an unmatched guest payment', async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop, locale: 'en-US' });
  const page = await ctx.newPage();
  page.on('dialog', (d) => d.accept());
  await staffLogin(page, lakeside);
  await page.getByRole('link', { name: 'Payments' }).click();
  const list = page.locator('#payments-items');
  await list.getByText('$50.00 · Alex Morgan').waitFor();
  await audit(page, 'staff Payments');
  await screen(page, 'staff-payments');

  // $10 of Alex's $50 back to the card.
  await list.locator('li', { hasText: '$50.00 · Alex Morgan' }).getByRole('button', { name: /^Details/ }).click();
  const detail = page.locator('#payment-detail');
  await detail.getByText('Test card ending in 4242').waitFor();
  await detail.getByLabel('Refund amount (US$)').fill('10');
  await detail.getByRole('button', { name: 'Refund', exact: true }).click();
  await detail.getByText('$10.00 refunded.').waitFor();
  await list.getByText('$10.00 refunded').waitFor();

  // The guest payment that matched nobody, assigned to the patient it was for.
  await page.getByLabel('Show').selectOption('unmatched');
  await page.locator('#payments-form').getByRole('button', { name: 'Show' }).click();
  await list.getByText(/Unmatched guest payment: Alexa Morgan/).waitFor();
  await list.getByRole('button', { name: /^Details/ }).first().click();
  await detail.getByLabel('Find the patient to assign it to').fill('Morgan, Alex');
  await detail.getByRole('button', { name: 'Find' }).click();
  await detail.getByRole('button', { name: 'Assign to Alex Morgan' }).click();
  await detail.getByText('Assigned to Alex Morgan.').waitFor();
  await list.getByText('No payments here.').waitFor();
  await audit(page, 'staff payment detail');

  // The processor: the test processor works; its secrets are never shown.
  await page.getByRole('button', { name: 'Test connection' }).click();
  await page.getByText('Connected: The test keys work.').waitFor();
  await ctx.close();
});
