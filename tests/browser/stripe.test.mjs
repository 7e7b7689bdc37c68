// Payments through Stripe in Debian's Chromium, with localstripe standing in for Stripe (tests/run
// starts it and points portal-local's Stripe at it; the payment page loads localstripe's stand-in
// for Stripe.js, whose fake card fields take a test card exactly where Stripe's would). Lakeside
// is switched to Stripe through the staff API for this file and back to the test processor after.
// Cards: 4242… approved; 4000 0000 0000 0002 refused when it is entered, 4000 0000 0000 0341 when
// it is charged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, VIEWPORTS, audit, launch, patientLogin, practice, screen, staffLogin } from './helpers.mjs';

const STRIPE = process.env.PORTAL_STRIPE_URL;
assert.ok(STRIPE, 'PORTAL_STRIPE_URL must be set (tests/run starts localstripe)');
const lakeside = practice('lakeside');
const alex = lakeside.patients.find((p) => p.username === 'alex.morgan');
const keys = { publishableKey: 'pk_test_browser1234', secretKey: 'sk_test_browser1234', webhookSecret: 'whsec_browser1234' };

let browser;
let staff;
before(async () => {
  browser = await launch();
  staff = await (await browser.newContext()).newPage();
  await staffLogin(staff, lakeside);
  await setProcessor({ processor: 'stripe', ...keys });
  // Stripe's webhooks for this practice, signed with the endpoint's secret.
  const hook = await fetch(`${STRIPE}/_config/webhooks/browser`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ url: `${BASE}/v1/webhooks/stripe/lakeside`, secret: keys.webhookSecret }),
  });
  assert.ok(hook.ok);
});
after(async () => {
  await setProcessor({ processor: 'test' });
  await browser?.close();
});

async function setProcessor(change) {
  const current = await (await staff.request.get(`${BASE}/v1/admin/payments/setup`)).json();
  const res = await staff.request.put(`${BASE}/v1/admin/payments/setup`, {
    data: { limitCents: current.limitCents, version: current.version, ...change },
    headers: { origin: BASE },
  });
  assert.equal(res.status(), 200, await res.text());
}

/** Types a card into the (fake) Stripe card fields and pays; answers the page's status text or receipt. */
async function payWithCard(page, number) {
  const field = page.locator('#card-element');
  await field.getByPlaceholder('number').fill(number);
  await field.getByPlaceholder('exp_month').fill('12');
  await field.getByPlaceholder('exp_year').fill('31');
  await field.getByPlaceholder('cvc').fill('123');
  await field.getByPlaceholder('postal_code').fill('49116');
  await page.locator('#card-pay').click();
}

async function startPayment(page, amount) {
  await page.goto(`${BASE}/p/lakeside/pay`);
  await page.getByLabel('Amount to pay (US$)').fill(amount);
  await page.getByRole('button', { name: 'Continue to payment' }).click();
  await page.locator('#card-element input').first().waitFor();
}

test('a patient pays $50 with a card typed into Stripe\'s fields; declined cards say so and charge nothing', async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop, locale: 'en-US' });
  const page = await ctx.newPage();
  const failures = [];
  page.on('response', (r) => { if (r.status() >= 500) failures.push(`${r.status()} ${r.url()}`); });
  const portalSaw = [];
  page.on('request', (r) => { if (r.url().startsWith(BASE)) portalSaw.push(`${r.url()} ${r.postData() || ''}`); });
  await patientLogin(page, 'lakeside', alex);
  await page.locator('#home-view').waitFor({ state: 'visible' });

  // Refused when entered: a clear reason; the same payment then takes another card.
  await startPayment(page, '50.00');
  assert.equal(await page.locator('#card-pay').textContent(), 'Pay $50.00');
  await screen(page, 'patient-pay-stripe');
  await payWithCard(page, '4000000000000002');
  await page.getByText('The card was declined: Your card was declined. Nothing was charged.').waitFor();
  await payWithCard(page, '4242424242424242');
  await page.getByText('Payment received. Thank you!').waitFor();
  const receipt = await page.locator('.receipt').textContent();
  assert.match(receipt, /\$50\.00/);
  assert.match(receipt, /Visa ending in 4242/);
  await audit(page, 'Stripe payment receipt');

  // Refused when charged.
  await startPayment(page, '25.00');
  await payWithCard(page, '4000000000000341');
  await page.getByText('The card was declined: Your card was declined. Nothing was charged.').waitFor();

  // The card number went to Stripe's fields only: the portal never saw it.
  assert.ok(portalSaw.length > 5);
  assert.deepEqual(portalSaw.filter((r) => /4242424242424242|4000000000000341|"cvc"/.test(r)), []);
  assert.deepEqual(failures, []);
  await ctx.close();
});
