// Shared by the journey scripts: argument parsing, Debian's chromium through playwright-core,
// screenshots under the output folder, and small assertions that fail with what the page showed.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function args() {
  const a = process.argv.slice(2);
  const o = { base: 'http://127.0.0.1:8080', out: 'build/test-output/e2e' };
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '--base') o.base = a[++i];
    else if (a[i] === '--out') o.out = a[++i];
  }
  fs.mkdirSync(o.out, { recursive: true });
  return o;
}

export const PHONE = { width: 390, height: 844 };
export const TABLET = { width: 1024, height: 768 };
export const WALL = { width: 1920, height: 1080 };

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export async function browser() {
  // A fresh profile per run: no state leaks between runs, nothing written to the user's home.
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'carnet-e2e-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // A synthetic camera, granted without a prompt, for the QR check-in.
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
    viewport: PHONE,
    locale: process.env.CARNET_E2E_LOCALE || 'en-GB',
    timezoneId: 'Europe/Paris',
    permissions: ['camera'],
  });
  const close = async () => {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { ctx, close };
}

/** A new page with the given viewport and language; console errors and failed requests fail the run. */
export async function newPage(ctx, { viewport = PHONE, lang } = {}) {
  const page = await ctx.newPage();
  await page.setViewportSize(viewport);
  if (lang) await page.addInitScript((l) => localStorage.setItem('carnet.lang', l), lang);
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push('pageerror: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push('console: ' + m.text()); });
  return page;
}

/** Basic accessibility checks on what is on screen: every control has a name, the page has one
 * h1 and a language. Run with every screenshot, so each page state we look at is checked too. */
export async function a11y(page, name) {
  const problems = await page.evaluate(() => {
    const out = [];
    const visible = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
    for (const e of document.querySelectorAll('input, select, textarea')) {
      if (e.type === 'hidden' || !visible(e)) continue;
      const named = (e.labels && e.labels.length) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby');
      if (!named) out.push(`unlabelled ${e.tagName.toLowerCase()}#${e.id || e.name}`);
    }
    for (const e of document.querySelectorAll('button, a[href]')) {
      if (!visible(e)) continue;
      if (!(e.textContent.trim() || e.getAttribute('aria-label'))) out.push(`nameless ${e.tagName.toLowerCase()} ${e.outerHTML.slice(0, 80)}`);
    }
    for (const e of document.querySelectorAll('svg[role="img"]')) {
      if (!e.getAttribute('aria-label')) out.push('svg image without aria-label');
    }
    const h1 = [...document.querySelectorAll('h1')].filter(visible).length;
    if (h1 !== 1) out.push(`${h1} visible h1`);
    if (!document.documentElement.lang) out.push('no lang on <html>');
    return out;
  });
  if (problems.length) throw new Error(`accessibility (${name}): ${problems.join('; ')}`);
}

export async function shot(page, out, name) {
  await a11y(page, name);
  const file = path.join(out, name + '.png');
  // Background tabs are not painted in headless Chromium: a screenshot of one waits forever.
  await page.bringToFront();
  // From the top, so the sticky header is not painted over the middle of a full-page shot.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage: true });
  console.log('  screenshot', file);
  return file;
}

export function check(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg);
  console.log('  ok', msg);
}

/** Waits until the locator's text contains `want` (or matches a RegExp). */
export async function expectText(locator, want, msg, timeout = 10000) {
  const deadline = Date.now() + timeout;
  let last = '';
  while (Date.now() < deadline) {
    const visible = await locator.first().isVisible().catch(() => false);
    last = visible ? (await locator.first().textContent().catch(() => '')) || '' : '(not visible)';
    if (visible && (want instanceof RegExp ? want.test(last) : last.includes(want))) {
      console.log('  ok', msg || `text "${want}"`);
      return last;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`assertion failed: ${msg || ''}: wanted ${want}, page shows "${last.trim().slice(0, 300)}"`);
}

export function noErrors(page) {
  // 4xx replies the page handles show up as console errors in Chromium; only script errors count.
  const bad = page.errors.filter((e) => e.startsWith('pageerror'));
  if (bad.length) throw new Error('page errors:\n' + bad.join('\n'));
}

/** Runs a journey: prints PASS/FAIL and sets the exit code. */
export async function run(name, fn) {
  const o = args();
  const { ctx, close } = await browser();
  const t0 = Date.now();
  try {
    await fn(ctx, o);
    console.log(`PASS ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  } catch (e) {
    console.error(`FAIL ${name}: ${e.stack || e}`);
    for (const p of ctx.pages()) {
      try { await p.screenshot({ path: path.join(o.out, `${name}-failure-${ctx.pages().indexOf(p)}.png`), fullPage: true }); } catch { /* page gone */ }
    }
    process.exitCode = 1;
  } finally {
    await close();
  }
}

/** A staff session through the API (for set-up steps that are not what the test is about). */
export async function staffApi(base, email, password = 'carnet-demo') {
  const r = await fetch(base + '/api/auth/login', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password }),
  });
  if (!r.ok) throw new Error(`login ${email}: ${r.status} ${await r.text()}`);
  const cookie = r.headers.get('set-cookie').split(';')[0];
  const { csrf } = await r.json();
  const call = async (method, p, body) => {
    const res = await fetch(base + p, {
      method, headers: { Cookie: cookie, 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return { get: (p) => call('GET', p), post: (p, b) => call('POST', p, b ?? {}), put: (p, b) => call('PUT', p, b ?? {}) };
}
