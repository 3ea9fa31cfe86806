// Development aid: screenshots of pages at phone and tablet size.
//   node tests/e2e/shots.mjs --base http://127.0.0.1:8080 --out /tmp/shots /path/ name [/path2 name2 ...]
import { args, browser, newPage, PHONE, TABLET, shot } from './lib.mjs';

const o = args();
const rest = process.argv.slice(2).filter((a, i, all) => !['--base', '--out'].includes(a) && !['--base', '--out'].includes(all[i - 1]));
const { ctx, close } = await browser();
try {
  for (let i = 0; i < rest.length; i += 2) {
    for (const [vp, tag] of [[PHONE, 'phone'], [TABLET, 'tablet']]) {
      const page = await newPage(ctx, { viewport: vp, lang: process.env.LANG_UI });
      await page.goto(o.base + rest[i]);
      await page.waitForTimeout(800);
      await shot(page, o.out, `${rest[i + 1]}-${tag}`);
      for (const e of page.errors) console.log('  ', e);
      await page.close();
    }
  }
} finally {
  await close();
}
