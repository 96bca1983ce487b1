#!/usr/bin/env node
// Keep-alive HTTP client used by the capture scripts: the real Node http(s)
// client with `new http.Agent({ keepAlive: true, maxSockets: 1 })`.
//
//   node node-client.js url=http://127.0.0.1:3001 plan='[["GET","/a",0,0], ...]'
//        [linger=MS] [ready=FILE go=FILE sync=N] [deadline=MS] [servername=NAME]
//
// plan: one step per request, [method, path, wait_ms, spin_ms]: after the
// previous response ended, wait wait_ms (setTimeout), then block the event
// loop for spin_ms (busy loop), then send the request.
//
// Why the spin: Node learns that the server closed an idle socket only when
// its event loop reads the FIN. If the FIN reaches the kernel while the loop
// is busy, the agent still holds the socket as free and the next request is
// written on it in the same tick: the server's kernel answers with RST
// (verdict "stale", nodejs/node#47130). With spin_ms = 0 and a wait timed
// against a known one-way delay, the request crosses the FIN in flight
// (verdict "crossed").
//
// servername: TLS SNI host name to send in the ClientHello (https only; Node
// sends none when connecting to an IP address without it).
// linger: ms to keep the agent (and its idle socket) after the last response.
// ready/go/sync: after request number `sync` (1-based) completes, create
// `ready` and wait until `go` exists (used to start a capture mid-stream).
//
// Output: one line per request, "OK ..." or "ERROR <code> ..."; the capture
// scripts count ERROR lines as the client-side truth.
'use strict';
const fs = require('fs');

const opt = {};
for (const a of process.argv.slice(2)) {
  const i = a.indexOf('=');
  opt[a.slice(0, i)] = a.slice(i + 1);
}
const url = new URL(opt.url);
const tls = url.protocol === 'https:';
const mod = require(tls ? 'https' : 'http');
const agent = new mod.Agent({ keepAlive: true, maxSockets: 1,
                              ...(tls ? { rejectUnauthorized: false } : {}) });
const plan = JSON.parse(opt.plan);
const sync = Number(opt.sync || 0);
const t0 = Date.now();
const ts = () => ((Date.now() - t0) / 1000).toFixed(3);

// hard bound on the whole run
setTimeout(() => { console.log(`ERROR TIMEOUT client gave up at ${ts()}`); process.exit(1); },
           Number(opt.deadline || 20000)).unref();

function spin(ms) {
  const end = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
  while (process.hrtime.bigint() < end) { /* busy: keep the loop from reading the FIN */ }
}

function waitFor(file, cb) {
  if (fs.existsSync(file)) return cb();
  setTimeout(() => waitFor(file, cb), 20);
}

function step(i) {
  if (i >= plan.length) { setTimeout(() => agent.destroy(), Number(opt.linger || 0)); return; }
  const [method, path, wait, spinMs] = plan[i];
  setTimeout(() => {
    if (spinMs) spin(spinMs);
    const body = (method === 'POST' || method === 'PUT')
      ? JSON.stringify({ item: path, qty: i + 1 }) : null;
    const headers = body ? { 'Content-Type': 'application/json',
                             'Content-Length': Buffer.byteLength(body) } : {};
    let done = false;
    const finish = (line) => {
      if (done) return;
      done = true;
      console.log(line);
      const next = () => step(i + 1);
      if (sync && i + 1 === sync) {
        fs.writeFileSync(opt.ready, 'ready\n');
        waitFor(opt.go, next);
      } else {
        next();
      }
    };
    const req = mod.request({ host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port,
                              method, path, agent, headers, timeout: 3000,
                              ...(opt.servername ? { servername: opt.servername } : {}) }, (res) => {
      res.resume();
      res.on('end', () => finish(`OK ${ts()} #${i + 1} ${method} ${path} ${res.statusCode} ` +
                                 `lport=${req.socket && req.socket.localPort}`));
    });
    req.on('socket', (s) => { req._lport = s.localPort; });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => finish(`ERROR ${e.code || '?'} ${ts()} #${i + 1} ${method} ${path} ` +
                                  `"${e.message}" lport=${req._lport}`));
    req.end(body);
  }, wait);
}
step(0);
