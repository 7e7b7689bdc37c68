// The patient modules in Debian's Chromium against the seeded demo: Alex (the Morgan family's
// guarantor) switches to Riley and sees Riley's appointments and books Riley's due recall,
// confirms his own pending appointment, downloads a statement PDF, reads the treatment plan's
// totals and opens an image. Every tab is checked for sideways scrolling and with axe-core, and
// photographed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import ICAL from 'ical.js';
import { VIEWPORTS, audit, launch, openView, patientLogin, practice, screen } from './helpers.mjs';

const lakeside = practice('lakeside');
const alex = lakeside.patients.find((p) => p.username === 'alex.morgan');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Opens a feature tab (rendered afresh) and waits until it has loaded. */
async function openTab(page, name) {
  // Panels keep their last content: empty it first, so what is waited for is the new render.
  const key = await page.locator('#view-list a').filter({ hasText: typeof name === 'string' ? new RegExp(`^${name}$`) : name }).first().getAttribute('data-view');
  await page.locator(`#panel-${key}`).evaluate((p) => p.replaceChildren());
  const panel = await openView(page, name);
  await panel.locator('h2').waitFor();
  return panel;
}

async function loggedIn(viewport) {
  const ctx = await browser.newContext({ viewport, locale: 'en-US', acceptDownloads: true });
  const page = await ctx.newPage();
  const failures = [];
  page.on('response', (r) => { if (r.status() >= 500) failures.push(`${r.status()} ${r.url()}`); });
  page.on('console', (m) => { if (m.type() === 'error') failures.push(m.text()); });
  await patientLogin(page, 'lakeside', alex);
  await page.locator('#home-view').waitFor({ state: 'visible' });
  return { ctx, page, failures };
}

for (const [size, viewport] of Object.entries(VIEWPORTS)) {
  test(`${size}: every module tab fits the screen and has no serious accessibility violations`, async () => {
    const { ctx, page, failures } = await loggedIn(viewport);
    for (const [tab, shot] of [['Account', 'account'], ['Care summary', 'care-summary'], ['Treatment plans', 'treatment-plans'], ['Images & documents', 'images'], ['Appointments', 'appointments']]) {
      const panel = await openTab(page, tab);
      await panel.locator('.part').first().waitFor();
      // Plain words: no procedure code on the screen until Details is opened.
      assert.doesNotMatch(await panel.evaluate((p) => p.innerText), /\bD\d{4}\b|\bProphy\b/, tab);
      await screen(page, `patient-${shot}`);
      await audit(page, `patient ${tab}`);
    }
    assert.deepEqual(failures, []);
    await ctx.close();
  });
}

test("the guarantor books a child's recall, confirms an appointment, downloads a statement, reads a plan and opens an image", async () => {
  const { ctx, page, failures } = await loggedIn(VIEWPORTS.desktop);
  // Home says what needs doing, for each person, with whose it is.
  const todos = page.locator('#panel-home ul.todos');
  await todos.waitFor();
  const confirm = todos.locator('li', { hasText: /^Confirm the appointment on / });
  assert.equal(await confirm.count(), 1, 'Alex\'s appointment waiting for confirmation');
  assert.equal(await confirm.locator('.whose').count(), 0, 'Alex\'s own to-do names nobody');
  const rileyRecall = todos.locator('li', { hasText: 'For Riley Morgan' }).filter({ hasText: 'Cleaning due' });
  assert.equal(await rileyRecall.count(), 1, await todos.textContent());
  await screen(page, 'patient-home-todos');
  // Confirmed from Home: the to-do goes, and the appointment is confirmed.
  await confirm.getByRole('button', { name: 'Confirm appointment' }).click();
  await page.waitForFunction(() => ![...document.querySelectorAll('#panel-home ul.todos li')].some((li) => li.textContent.startsWith('Confirm the appointment')));
  // Riley's recall: Book opens Riley's appointments.
  await rileyRecall.getByRole('button', { name: 'Book', exact: true }).click();
  await page.waitForFunction(() => location.hash === '#/appointments');
  assert.equal(await page.locator('#viewing').textContent(), 'Viewing the records of Riley Morgan');
  let panel = page.locator('#panel-MakeAppointments');
  const past = panel.locator('section.part', { has: page.getByRole('heading', { name: 'Past' }) }).locator('li');
  await past.first().waitFor();
  assert.equal(await past.count(), 2);
  assert.match(await past.first().textContent(), /Priya Raman, RDH/);
  // Riley's due recall: book the first open time.
  const recall = panel.locator('li.action', { hasText: 'Cleaning due' });
  const firstTime = (await recall.locator('label').first().textContent()).split(' · ')[0];
  await recall.getByRole('button', { name: 'Book this time' }).click();
  await panel.getByText(/^Booked for /).waitFor();
  const upcoming = panel.locator('section.part', { has: page.getByRole('heading', { name: 'Upcoming' }) });
  await upcoming.getByText('Requested, the office will confirm').waitFor();
  assert.match(await upcoming.locator('li').first().textContent(), new RegExp(firstTime.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.equal(await panel.locator('li.action', { hasText: 'Cleaning due' }).count(), 0, 'the recall is booked');

  // Back to Alex: the appointment confirmed from Home is listed once, confirmed.
  await page.getByLabel('Whose records to show').selectOption({ label: 'Alex Morgan (you)' });
  panel = await openTab(page, 'Appointments');
  assert.equal(await panel.getByRole('button', { name: 'Confirm appointment' }).count(), 0);
  await panel.locator('section.part', { has: page.getByRole('heading', { name: 'Upcoming' }) }).getByText('Confirmed').first().waitFor();
  // Add to calendar: an iCalendar file, read by a calendar library, at the appointment's time.
  const saved = page.waitForEvent('download');
  await panel.getByRole('link', { name: /^Add to calendar: / }).first().click();
  const ics = await saved;
  assert.match(ics.suggestedFilename(), /^appointment-\d{4}-\d{2}-\d{2}\.ics$/);
  const event = new ICAL.Event(new ICAL.Component(ICAL.parse(readFileSync(await ics.path(), 'utf8'))).getFirstSubcomponent('vevent'));
  const shown = await page.evaluate(() => fetch('/v1/appointments').then((r) => r.json()).then((v) => v.upcoming[0]));
  assert.equal(event.startDate.toJSDate().getTime(), new Date(shown.start).getTime());
  assert.equal(event.duration.toSeconds(), shown.lengthMinutes * 60);
  assert.equal(event.summary, 'Dental appointment — Lakeside Family Dental');
  assert.match(event.description, /^With Maya Chen, DDS/);

  // Past appointments a page at a time (two per page here, by asking for smaller pages).
  const all = await panel.locator('section.part', { has: page.getByRole('heading', { name: 'Past' }) }).locator('li').count();
  await page.route(/\/v1\/appointments\?/, (route) => route.continue({ url: route.request().url() + '&limit=2' }));
  panel = await openTab(page, 'Appointments');
  const pastPart = panel.locator('section.part', { has: page.getByRole('heading', { name: 'Past' }) });
  const more = pastPart.getByRole('button', { name: 'Show more' });
  await more.waitFor();
  let pages = 1;
  while (await more.count()) {
    const before = await pastPart.locator('li').count();
    await more.click();
    await page.waitForFunction(([n]) => document.querySelectorAll('#panel-MakeAppointments section.part:last-of-type li').length > n, [before]);
    pages += 1;
  }
  assert.ok(pages >= 3, `${pages} pages`);
  assert.equal(await pastPart.locator('li').count() + await panel.locator('section.part', { has: page.getByRole('heading', { name: 'Upcoming' }) }).locator('li').count(),
    all + 1, 'every appointment once, through the pages');
  await page.unroute(/\/v1\/appointments\?/);

  // The account: the balance, and the latest statement downloads as the PDF that was synced.
  panel = await openTab(page, 'Account');
  await panel.getByText('$412.00').first().waitFor();
  const download = page.waitForEvent('download');
  await panel.getByRole('button', { name: /^Download the statement of/ }).first().click();
  const file = await download;
  assert.match(file.suggestedFilename(), /^statement-\d{4}-\d{2}-\d{2}\.pdf$/);
  const bytes = readFileSync(await file.path());
  assert.equal(bytes.subarray(0, 5).toString(), '%PDF-');
  assert.match(bytes.toString('latin1'), /Statement for the Morgan family/);
  assert.match(bytes.toString('latin1'), /Balance due: \$412\.00/);

  // The treatment plan's totals.
  panel = await openTab(page, 'Treatment plans');
  const totals = panel.locator('tfoot tr');
  await totals.waitFor();
  assert.deepEqual(await totals.locator('td.num').allTextContents(), ['$1,780.00', '$1,002.00', '$778.00']);

  // An image: its thumbnail, then the image itself.
  panel = await openTab(page, 'Images & documents');
  const card = panel.locator('li', { hasText: 'Bitewing radiographs' });
  const thumb = card.locator('img.thumb');
  await thumb.waitFor();
  assert.ok(await thumb.evaluate((img) => img.complete && img.naturalWidth > 0), 'the thumbnail loads');
  await card.getByRole('button', { name: 'View: Bitewing radiographs' }).click();
  // A full-screen viewer: zoom, download, Escape back to the gallery.
  const viewer = page.getByRole('dialog', { name: 'Bitewing radiographs' });
  const full = viewer.locator('img');
  await full.waitFor();
  await page.waitForFunction(() => { const img = document.querySelector('dialog.image-viewer img'); return img && img.complete && img.naturalWidth > 0; });
  assert.equal(await full.getAttribute('alt'), 'Bitewing radiographs');
  const fitted = await full.evaluate((img) => img.getBoundingClientRect().width);
  await viewer.getByRole('button', { name: 'Zoom in' }).click();
  assert.ok(await full.evaluate((img) => img.getBoundingClientRect().width) > fitted * 1.4, 'zoomed in');
  assert.ok(await viewer.getByRole('link', { name: 'Download' }).getAttribute('href'));
  await screen(page, 'patient-image-open');
  await audit(page, 'image viewer');
  await page.keyboard.press('Escape');
  await viewer.waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'View: Bitewing radiographs', 'focus back on the button');
  assert.equal(await panel.getByText('Narrative for claim').count(), 0, 'documents of folders not shared are not there');
  assert.deepEqual(failures, []);
  await ctx.close();
});
