#!/usr/bin/env node
// HTTPS keep-alive client (Node's https module, one pooled socket) for
// tls-capture.sh, writing its NSS key log from the agent's 'keylog' event.
//
//   node tls-node-client.js url=https://[::1]:8450 keylog=FILE plan='[STEP, ...]'
//        [ciphers=LIST] [min=TLSv1.2 max=TLSv1.3] [linger=MS]
//
// STEP = [method, path, wait_ms, spin_ms, body_bytes]: after the previous
// response, wait wait_ms, block the event loop spin_ms (so it does not read
// a FIN that arrives meanwhile: the agent still holds the socket as free and
// writes the next request on it; the server's kernel answers RST), then send.
// A body of body_bytes is sent with Content-Length by req.end(body): Node
// encrypts header block and body as TLS records of at most 16 KiB (the
// header block shares the first) and hands all the ciphertext to the kernel
// in one write.
// ciphers: Node's cipher list (TLS 1.3 suites are named TLS_..., and a list
// holding only TLS 1.3 suites leaves the TLS 1.2 list at its default).
// linger (default 100 ms): keep the idle socket that long after the last
// response, shorter than the server's idle close (a Node client answers the
// server's FIN with close_notify, which would look like a lost request).
//
// Output: "OK ..." or "ERROR <code> ... METHOD PATH" per request; the capture
// script counts ERROR lines as the client-side truth.
'use strict';
const fs = require('fs');
const https = require('https');

const opt = Object.fromEntries(process.argv.slice(2).map((a) => {
  const i = a.indexOf('=');
  return [a.slice(0, i), a.slice(i + 1)];
}));
const url = new URL(opt.url);
const agent = new https.Agent({
  keepAlive: true, maxSockets: 1, rejectUnauthorized: false,
  ...(opt.ciphers ? { ciphers: opt.ciphers } : {}),
  ...(opt.min ? { minVersion: opt.min } : {}),
  ...(opt.max ? { maxVersion: opt.max } : {}),
});
agent.on('keylog', (line) => fs.appendFileSync(opt.keylog, line));
const plan = JSON.parse(opt.plan);
const t0 = Date.now();
const ts = () => ((Date.now() - t0) / 1000).toFixed(3);
setTimeout(() => { console.log(`ERROR TIMEOUT ${ts()}`); process.exit(1); }, 20000).unref();

function run(i) {
  if (i === plan.length) {
    setTimeout(() => agent.destroy(), Number(opt.linger || 100));
    return;
  }
  const [method, path, wait, spinMs, size] = plan[i];
  setTimeout(() => {
    const end = Date.now() + spinMs;
    while (Date.now() < end) { /* busy: the FIN stays unread */ }
    const body = size ? Buffer.alloc(size, `${method} ${path} #${i + 1} `) : null;
    let said = false;
    const say = (s) => { if (!said) { said = true; console.log(s); run(i + 1); } };
    const req = https.request({
      host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port, method, path, agent,
      timeout: 3000,
      headers: body ? { 'Content-Type': 'text/plain', 'Content-Length': body.length } : {},
    }, (res) => {
      const tls = `${res.socket.getProtocol()} ${res.socket.getCipher().name}`;
      res.resume();
      res.on('end', () => say(`OK ${ts()} #${i + 1} ${method} ${path} ${res.statusCode} ${tls}`));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => say(`ERROR ${e.code || '?'} ${ts()} #${i + 1} ${method} ${path} "${e.message}"`));
    req.end(body);
  }, wait);
}
run(0);
