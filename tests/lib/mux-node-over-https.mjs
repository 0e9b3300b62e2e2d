// Run as a child process with NODE_EXTRA_CA_CERTS pointing at a test certificate (how a Node
// app trusts a private CA): drives @mux/mux-node 7.3.5, unchanged, against an Oriel serving
// https, and prints one JSON line with what it saw.
//
//   node mux-node-over-https.mjs BASE_URL TOKEN_ID TOKEN_SECRET

import Mux from '@mux/mux-node';

const [baseUrl, id, secret] = process.argv.slice(2);
const mux = new Mux(id, secret, { baseUrl });
try {
  const space = await mux.Video.Spaces.create({ passthrough: 'over tls' });
  const listed = await mux.Video.Spaces.list();
  const got = await mux.Video.Spaces.get(space.id);
  await mux.Video.Spaces.delete(space.id);
  let afterDelete = null;
  try {
    await mux.Video.Spaces.get(space.id);
  } catch (e) {
    afterDelete = e.type || e.messages || String(e);
  }
  console.log(JSON.stringify({ ok: true, space, listed: listed.map((s) => s.id), got, afterDelete }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e), type: e.type, code: e.code }));
}
