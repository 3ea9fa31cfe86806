// Journey: the diagnostic kit speaks real tools (issue 17, point 6). A technician opens a
// laptop's health record on the tablet and imports, as the tools wrote them, upower's text for
// its battery (a file, as a USB stick or a share would hand it over) and smartctl's JSON for its
// disk (pasted from a terminal). The record's trends gain the battery's capacity and the disk's
// reallocated sectors, the timeline names each tool and the disk's own serial, and a report of
// no known kind is refused with the kinds Carnet reads. On a phone the page does not scroll
// sideways.
import fs from 'node:fs';
import path from 'node:path';
import { run, newPage, shot, check, expectText, noErrors, staffApi, PHONE } from './lib.mjs';

const TABLET = { width: 1180, height: 820 };
const SERIAL = 'IMPE2E' + String(Date.now()).slice(-6);
const DATA = path.join(process.cwd(), 'tests', 'it', 'data', 'diag');

run('importers', async (ctx, o) => {
  // Set-up (not what the journey is about): the laptop is known.
  const api = await staffApi(o.base, 'tech@carnet.test');
  await api.put(`/api/devices/${SERIAL}`, { model: 'ThinkPad W520' });

  const tab = await newPage(ctx, { viewport: TABLET });
  await tab.goto(o.base + '/staff/#device/' + SERIAL);
  await tab.getByLabel('Email').fill('tech@carnet.test');
  await tab.getByLabel('Password').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  const form = tab.locator('#import-form');
  await expectText(form.locator('h2'), 'Import a tool', 'the record offers to import a tool\'s report');

  // The battery: upower's text, as a file.
  await form.getByLabel('Report file').setInputFiles(path.join(DATA, 'upower-lenovo-w520.txt'));
  await form.getByRole('button', { name: 'Import the report' }).click();
  await expectText(tab.locator('#status'), 'Report imported (upower): 0 passed, 1 failed', 'upower\'s report is imported');
  await expectText(tab.locator('[aria-labelledby="dv-trends"]'), 'Battery health', 'its capacity joins the trends');
  await expectText(tab.locator('[aria-labelledby="dv-tl"]'), 'upower: 0 ✓ · 1 ✗', 'the timeline names the tool');
  await expectText(tab.locator('[aria-labelledby="dv-tl"]'), 'part 21903', 'and the battery\'s own serial');

  // The disk: smartctl's JSON, pasted.
  const smart = fs.readFileSync(path.join(DATA, 'smartctl-ata-failing-scrutiny.json'), 'utf8');
  await tab.locator('#import-form').getByLabel('Or paste the report').fill(smart);
  await tab.locator('#import-form').getByRole('button', { name: 'Import the report' }).click();
  await expectText(tab.locator('#status'), 'Report imported (smartctl)', 'smartctl\'s report is imported');
  await expectText(tab.locator('[aria-labelledby="dv-trends"]'), 'Reallocated sectors', 'the disk\'s sectors join the trends');
  await expectText(tab.locator('[aria-labelledby="dv-tl"]'), 'part MSK423Y20S3HBC', 'the disk keeps its own serial');
  await shot(tab, o.out, 'importers-record');

  // A report of no known kind: refused, naming the kinds understood; nothing else changes.
  await tab.locator('#import-form').getByLabel('Or paste the report').fill('Battery: fine\nDisk: fine\n');
  await tab.locator('#import-form').getByRole('button', { name: 'Import the report' }).click();
  await expectText(tab.locator('#import-form .field-error'), 'smartctl --json -a', 'an unknown report is refused with the kinds Carnet reads');
  const rec = await api.get(`/api/devices/${SERIAL}`);
  check(rec.entries.filter((e) => e.kind === 'diagnostic').length === 2, 'two sessions were stored, no more');
  noErrors(tab);

  // A phone (the same session): the same page, no sideways scroll.
  const phone = await newPage(ctx, { viewport: PHONE });
  await phone.goto(o.base + '/staff/#device/' + SERIAL);
  await expectText(phone.locator('#import-form h2'), 'Import a tool', 'the import form on a phone');
  const wide = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(wide <= 0, `no horizontal scroll at 390 px (${wide})`);
  noErrors(phone);
});
