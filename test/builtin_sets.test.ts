/**
 * The built-in labelled set (logos vs app icons) for the semi-supervised model: on a machine without Papirus the app
 * icons come from npm colour icon sets, thousands of them, no brand marks among them; the two classes are balanced
 * by seeded sampling (the same selection every time), a run states the counts, and an old lopsided cached set is
 * not reused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadImageFolder } from '../src/runtime/data/images.ts';
import { appSourceNames, buildApps, buildLogos, describeData, ensureLabelledLogosApps, linkBalanced, readBuildInfo } from '../src/runtime/data/logos.ts';
import { decodeSquare } from '../src/runtime/data/decode.ts';
import { renderTile } from '../src/runtime/data/render.ts';
import { iconifyAppSets, withoutSkinTones } from '../src/runtime/data/sources.ts';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ganc-builtin-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('app icons from npm: thousands, from several colour sets, without brand marks or skin-tone repeats', async () => {
  const sets = await iconifyAppSets();
  const counts = Object.fromEntries(Object.entries(sets).map(([k, v]) => [k, v.length]));
  assert.deepEqual(counts, { 'flat-color-icons': 322, 'fluent-color': 199, 'streamline-ultimate-color': 958, 'fluent-emoji-flat': 1593 });
  const all = Object.values(sets).flat();
  assert.ok(all.length >= 3000, `${all.length} app icons`);
  const names = all.map((i) => i.name);
  for (const brand of ['github-logo-1', 'facebook-logo', 'debian', 'google']) assert.ok(!names.includes(brand), brand);
  assert.ok(!names.includes('waving-hand-medium-dark') && names.includes('waving-hand'));
  assert.ok(names.includes('vertical-traffic-light'), 'a name that merely ends like a skin tone stays');
  assert.ok(!names.includes('add-circle-16') && names.includes('add-circle-32'), 'one size of each Fluent drawing');
  assert.deepEqual(withoutSkinTones([{ name: 'a-light', svg: '' }]).map((i) => i.name), ['a-light']);
});

test('they render like the logos: in colour, centred on white, none blank', async () => {
  const sets = await iconifyAppSets();
  for (const [name, items] of Object.entries(sets)) {
    const sample = items.filter((_, i) => i % Math.ceil(items.length / 6) === 0);
    let coloured = 0;
    for (const item of sample) {
      const png = await renderTile(item.svg as string, 32);
      assert.ok(png, `${name}/${item.name} rendered blank`);
      const r = await decodeSquare(png, 32);
      assert.ok(r.ok);
      const plane = 32 * 32;
      assert.deepEqual([r.chw[0], r.chw[plane], r.chw[2 * plane]], [255, 255, 255], `${name}/${item.name}: corner not white`);
      // Colour, not grey: some pixel whose channels differ clearly.
      let sat = 0;
      for (let p = 0; p < plane; p++) sat = Math.max(sat, Math.max(r.chw[p], r.chw[p + plane], r.chw[p + 2 * plane]) - Math.min(r.chw[p], r.chw[p + plane], r.chw[p + 2 * plane]));
      if (sat > 80) coloured++;
    }
    assert.ok(coloured >= sample.length - 1, `${name}: only ${coloured} of ${sample.length} in colour`);
  }
});

describe('the balanced labelled set', () => {
  let cache: string;
  let saved: string | undefined;
  let logos: string;
  let apps: string;

  before(async () => {
    cache = join(tmp, 'cache');
    saved = process.env.GANC_CACHE;
    process.env.GANC_CACHE = cache;
    // Small finished built-in sets in the cache (as ensureBuiltinLogos/Apps leave them): 12 logos, 5 app icons.
    logos = join(cache, 'logos-16');
    apps = join(cache, 'apps-16');
    const l = await buildLogos(logos, { size: 16, limit: 12 });
    const a = await buildApps(apps, { size: 16, limit: 5 });
    assert.deepEqual([l.written, a.written], [12, 5]);
    await writeFile(join(logos, '.complete'), JSON.stringify({ sources: ['simple-icons', 'iconify-logos'], written: 12, failed: [] }));
    await writeFile(join(apps, '.complete'), JSON.stringify({ sources: await appSourceNames(), written: 5, failed: [] }));
    // What an earlier ganc left: the lopsided set, links to the whole class folders.
    await mkdir(join(cache, 'logos-apps-16'));
    await symlink(logos, join(cache, 'logos-apps-16', 'logos'));
    await symlink(apps, join(cache, 'logos-apps-16', 'apps'));
  });
  after(() => {
    if (saved === undefined) delete process.env.GANC_CACHE;
    else process.env.GANC_CACHE = saved;
  });

  test('replaces the old lopsided set; both classes have the smaller count; a run states the counts', async () => {
    const dir = await ensureLabelledLogosApps(16);
    assert.equal(dir, join(cache, 'logos-apps-16'));
    const ds = await loadImageFolder(dir, { size: 16, labels: true, cacheDir: join(tmp, 'decoded') });
    assert.deepEqual(ds.classes, ['apps', 'logos']);
    assert.deepEqual([...ds.labels!].sort(), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    const appNames = (await appSourceNames()).join(' + ');
    assert.equal(
      await describeData(ds, dir),
      `data: 5 app icons + 5 logos (balanced: logos sampled down from 12; app icons from ${appNames}, logos from simple-icons + iconify-logos) in ${dir}`,
    );
    // The class folders it was made from are untouched.
    assert.equal((await readBuildInfo(logos))?.written, 12);
    assert.equal((await stat(join(logos, 'simple-icons'))).isDirectory(), true);
    // Reused as it is the second time.
    const marker = await stat(join(dir, '.complete'));
    assert.equal(await ensureLabelledLogosApps(16), dir);
    assert.equal((await stat(join(dir, '.complete'))).mtimeMs, marker.mtimeMs);
  });

  test('the sampling is seeded: the same images every time, other ones with another seed; hard links, not copies', async () => {
    const files = async (d: string) => (await readdir(join(d, 'logos'), { recursive: true })).filter((f) => f.endsWith('.png')).sort();
    const a = await linkBalanced({ apps, logos }, join(tmp, 'a'));
    const b = await linkBalanced({ apps, logos }, join(tmp, 'b'));
    const c = await linkBalanced({ apps, logos }, join(tmp, 'c'), 'another seed');
    assert.deepEqual(a.classes!.logos, { count: 5, of: 12, sources: ['simple-icons', 'iconify-logos'] });
    assert.equal(a.written, 10);
    assert.equal((await files(join(tmp, 'a'))).length, 5);
    assert.deepEqual(await files(join(tmp, 'a')), await files(join(tmp, 'b')));
    assert.notDeepEqual(await files(join(tmp, 'a')), await files(join(tmp, 'c')));
    const f = (await files(join(tmp, 'a')))[0];
    assert.equal((await stat(join(tmp, 'a', 'logos', f))).ino, (await stat(join(logos, f))).ino);
    assert.equal(c.classes!.apps.count, 5);
  });

  test('other labelled data: each class with its count', async () => {
    const ds = await loadImageFolder(join(tmp, 'a'), { size: 16, labels: true, cacheDir: join(tmp, 'decoded') });
    assert.equal(await describeData(ds, join(tmp, 'a')), `data: 10 images from ${join(tmp, 'a')} (classes: apps 5, logos 5)`);
  });
});
