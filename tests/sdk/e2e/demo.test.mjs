// The meeting page Oriel serves at /demo?token=JWT, with three participants in real Chromium:
// the grid shows everyone's camera with their names, the speaker is highlighted, chat goes over
// custom events, mute and screen share show at the others, leave works. Screenshots are saved
// under tests/sdk/screenshots/ (look at them).
//
// The browser's fake microphone plays a speech-like WAV; Bob and Carol join with the
// microphone off, so Alice is the one speaking.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeVoiceWav } from '../../e2e/lib/wav.mjs';
import { useSdkE2E, pid, eventually, sleep } from '../lib/fixture.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.resolve(here, '../screenshots');
fs.mkdirSync(SHOTS, { recursive: true });
const voice = writeVoiceWav(path.join(os.tmpdir(), `oriel-sdk-demo-voice-${process.pid}.wav`));
after(() => fs.rmSync(voice, { force: true }));

// (Files fulfilled by a route have no address space: Chromium's local network access checks
// would then refuse the page's WebSocket to 127.0.0.1.)
const e2e = useSdkE2E({
  browserArgs: [`--use-file-for-fake-audio-capture=${voice}`, ...(process.env.ORIEL_DEMO_FROM_DISK === '1' ? ['--disable-features=LocalNetworkAccessChecks'] : [])],
});
const VIEWPORT = { width: 1280, height: 800 };

/** What a demo page shows: its tiles (name, video playing, speaking, mic muted) and chat. */
function view(page) {
  return page.evaluate(() => ({
    screen: document.getElementById('app').dataset.view,
    tiles: [...document.querySelectorAll('#grid .tile')].map((t) => {
      const v = t.querySelector('video');
      return {
        name: t.querySelector('.name').textContent,
        kind: t.classList.contains('screen') ? 'screen' : 'camera',
        video: !!v && !v.hidden && v.videoWidth > 0 && !v.paused,
        speaking: t.classList.contains('speaking'),
        micMuted: t.classList.contains('mic-muted'),
      };
    }),
    messages: [...document.querySelectorAll('#messages .message')].map((m) => `${m.querySelector('.author').textContent}: ${m.querySelector('.text').textContent}`),
    unread: document.getElementById('unread').hidden ? 0 : Number(document.getElementById('unread').textContent),
    count: document.getElementById('count-n')?.textContent,
    status: document.getElementById('status-text').textContent,
  }));
}

const SDK_WEB = path.resolve(here, '../../../sdk/web');
/** ORIEL_DEMO_FROM_DISK=1: the page's files from sdk/web instead of the binary (to work on the page without rebuilding oriel). */
const FROM_DISK = process.env.ORIEL_DEMO_FROM_DISK === '1';
const DISK_FILES = {
  '/demo': ['demo/index.html', 'text/html'],
  '/demo/demo.css': ['demo/demo.css', 'text/css'],
  '/demo/demo.js': ['dist/demo.js', 'application/javascript'],
  '/sdk/spaces.js': ['dist/spaces.js', 'application/javascript'],
};

async function openDemo(name, spaceId, query = '') {
  const context = await e2e.browser.context({ viewport: VIEWPORT });
  if (FROM_DISK) {
    await context.route(/^http:\/\/127\.0\.0\.1:\d+\/(demo|sdk)/, (route) => {
      const entry = DISK_FILES[new URL(route.request().url()).pathname];
      if (!entry) return route.continue();
      return route.fulfill({ status: 200, contentType: entry[1], body: fs.readFileSync(path.join(SDK_WEB, entry[0])) });
    });
  }
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`${e.name}: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  const jwt = e2e.env.sign(spaceId, { participantId: pid(name.split(' ')[0].toLowerCase()) });
  await page.goto(`${e2e.server.baseUrl}/demo?token=${jwt}&name=${encodeURIComponent(name)}${query}`);
  return { name, page, context, errors };
}

describe('the meeting page (/demo)', () => {
  e2e.test('three participants: names and video in the grid, active speaker, chat, mute, screen share, leave; screenshots', async (t) => {
    const space = await e2e.env.createSpace();

    // The lobby: camera preview, name, join.
    const alice = await openDemo('Alice Martin', space.id);
    await alice.page.waitForSelector('#lobby:not([hidden])');
    await alice.page.waitForFunction(() => document.getElementById('preview-video').videoWidth > 0);
    assert.equal(await alice.page.inputValue('#name-input'), 'Alice Martin');
    await alice.page.screenshot({ path: path.join(SHOTS, 'demo-lobby.png') });

    // Bob and Carol join first (oriel announces active speakers when the list changes, so they
    // are in before Alice starts speaking), then Alice.
    const bob = await openDemo('Bob Chen', space.id, '&autojoin=1&mic=0');
    const carol = await openDemo('Carol Diaz', space.id, '&autojoin=1&mic=0');
    const all = [alice, bob, carol];
    for (const x of [bob, carol]) {
      await x.page.waitForSelector('#meeting:not([hidden])', { timeout: 15_000 }).catch((e) => {
        throw new Error(`${x.name} did not get into the meeting: ${e.message}; page errors: ${JSON.stringify(x.errors)}`);
      });
    }
    await alice.page.click('#join-button');
    await alice.page.waitForSelector('#meeting:not([hidden])');

    // Everyone sees three camera tiles with playing video and the right names.
    for (const x of all) {
      const { value, ms } = await eventually(
        () => view(x.page),
        (v) => v.tiles.length === 3 && v.tiles.every((tile) => tile.video),
        { timeoutMs: 20_000, intervalMs: 250, what: `${x.name}: three tiles with video` },
      );
      const names = value.tiles.map((tile) => tile.name).sort();
      const expected = all.map((y) => (y === x ? `${y.name} (you)` : y.name)).sort();
      assert.deepEqual(names, expected, `${x.name}'s tiles`);
      assert.equal(value.count, '3');
      t.diagnostic(`${x.name}: 3 tiles with video after ${ms} ms`);
    }

    // Bob and Carol joined muted: the others show their microphones off; Alice speaks.
    for (const x of [alice, carol]) {
      await eventually(() => view(x.page), (v) => v.tiles.find((tile) => tile.name === 'Bob Chen')?.micMuted, { what: `${x.name} sees Bob's mic muted` });
    }
    for (const x of [bob, carol]) {
      await eventually(() => view(x.page), (v) => v.tiles.find((tile) => tile.name === 'Alice Martin')?.speaking, { timeoutMs: 10_000, what: `${x.name} sees Alice speaking` });
      const v = await view(x.page);
      assert.deepEqual(v.tiles.filter((tile) => tile.speaking).map((tile) => tile.name), ['Alice Martin'], 'only Alice is highlighted');
    }

    // Chat: Bob writes, Alice sees an unread badge, opens the chat and reads it; Carol too.
    await bob.page.click('#chat-button');
    await bob.page.fill('#chat-input', 'Hi everyone! Can you see my screen in a minute?');
    await bob.page.press('#chat-input', 'Enter');
    await eventually(() => view(bob.page), (v) => v.messages.length === 1, { what: 'Bob\'s own message in his chat' });
    assert.deepEqual((await view(bob.page)).messages, ['You: Hi everyone! Can you see my screen in a minute?']);
    await eventually(() => view(alice.page), (v) => v.unread === 1, { what: 'an unread badge at Alice' });
    await alice.page.click('#chat-button');
    await alice.page.fill('#chat-input', 'Yes, go ahead!');
    await alice.page.press('#chat-input', 'Enter');
    for (const x of [alice, carol]) {
      await eventually(() => view(x.page), (v) => v.messages.length === 2, { what: `${x.name}: two chat messages` });
    }
    assert.deepEqual((await view(carol.page)).messages, ['Bob Chen: Hi everyone! Can you see my screen in a minute?', 'Alice Martin: Yes, go ahead!']);
    assert.deepEqual((await view(alice.page)).messages, ['Bob Chen: Hi everyone! Can you see my screen in a minute?', 'You: Yes, go ahead!']);

    // Carol turns her camera off: the others show her avatar instead.
    await carol.page.click('#cam-button');
    assert.equal(await carol.page.getAttribute('#cam-button', 'aria-pressed'), 'true');
    await eventually(() => view(alice.page), (v) => v.tiles.find((tile) => tile.name === 'Carol Diaz')?.video === false, { what: 'Carol without video at Alice' });

    await sleep(500);
    const meetingShot = path.join(SHOTS, 'demo-meeting.png');
    await alice.page.screenshot({ path: meetingShot });

    // Bob shares his screen: a screen tile at the others, showing video.
    await bob.page.click('#screen-button');
    for (const x of [alice, carol]) {
      await eventually(
        () => view(x.page),
        (v) => v.tiles.some((tile) => tile.kind === 'screen' && tile.name === 'Bob Chen’s screen' && tile.video),
        { timeoutMs: 15_000, intervalMs: 250, what: `${x.name} sees Bob's screen` },
      );
    }
    await sleep(500);
    await carol.page.screenshot({ path: path.join(SHOTS, 'demo-screenshare.png') });
    await bob.page.click('#screen-button'); // stop sharing
    await eventually(() => view(alice.page), (v) => !v.tiles.some((tile) => tile.kind === 'screen'), { what: 'the screen tile gone at Alice' });

    // Bob leaves: he sees the left screen, the others lose his tile.
    await bob.page.click('#leave-button');
    await bob.page.waitForSelector('#left:not([hidden])');
    for (const x of [alice, carol]) {
      await eventually(() => view(x.page), (v) => v.tiles.length === 2 && !v.tiles.some((tile) => tile.name.startsWith('Bob')), { what: `${x.name} without Bob` });
    }

    for (const x of all) {
      assert.deepEqual(x.errors, [], `${x.name}: page errors`);
      assert.deepEqual(x.context.blocked, [], `${x.name}: requests to other hosts`);
    }
    const png = fs.readFileSync(meetingShot);
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    t.diagnostic(`screenshots in ${path.relative(process.cwd(), SHOTS)}: demo-lobby.png, demo-meeting.png (${png.length} bytes), demo-screenshare.png`);
  });

  e2e.test('without a token the page asks for one; a refused token shows the reason in the lobby', async () => {
    const context = await e2e.browser.context({ viewport: VIEWPORT });
    const page = await context.newPage();
    await page.goto(`${e2e.server.baseUrl}/demo`);
    await page.waitForSelector('#token-screen:not([hidden])');
    const space = await e2e.env.createSpace();
    const expired = e2e.env.sign(space.id, { participantId: pid('late'), expiration: '-1h' });
    await page.fill('#token-input', expired);
    await page.click('#token-form button[type=submit]');
    await page.waitForSelector('#lobby:not([hidden])');
    assert.equal(new URL(page.url()).searchParams.get('token'), expired);
    await page.fill('#name-input', 'Latecomer');
    await page.click('#join-button');
    await page.waitForFunction(() => /Could not join/.test(document.getElementById('lobby-error').textContent));
    assert.match(await page.textContent('#lobby-error'), /expired/i);
  });
});
