#!/usr/bin/env node
// Upstream target for proxy-capture.sh: the real Node http server with a
// short keepAliveTimeout, logging what each proxy sends it.
//
//   node proxy-target.js host=10.79.1.2 port=3000 keepalive=1000
//
// Every request is answered 200 with a small JSON body (no Server header:
// Node's http server sends none). One log line per event, on stdout, each
// "<event> <json>" with t = ms since start (monotonic):
//   listening {...}                       once bound
//   conn  {t, remote}                     a new TCP connection
//   req   {t, remote, method, url, version, headers: [[name, value]...]}
//                                         every request, headers as received
//   close {t, remote, idle_ms}            the socket closed (idle_ms: time
//                                         since its last response finished)
// The headers are the ground truth for "what does each proxy send
// upstream" (README, proxy captures). Exits on SIGTERM/SIGINT.
'use strict';
const http = require('http');

const opt = Object.fromEntries(process.argv.slice(2).map((a) => a.split(/=(.*)/s).slice(0, 2)));
const t0 = process.hrtime.bigint();
const now = () => Number(process.hrtime.bigint() - t0) / 1e6;
const log = (ev, o) => console.log(`${ev} ${JSON.stringify({ t: +now().toFixed(3), ...o })}`);
const remote = (s) => `${s.remoteAddress}:${s.remotePort}`;

const server = http.createServer((req, res) => {
  const pairs = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) pairs.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
  log('req', { remote: remote(req.socket), method: req.method, url: req.url,
               version: req.httpVersion, headers: pairs });
  req.resume();
  req.on('end', () => {
    const b = JSON.stringify({ ok: true, method: req.method, path: req.url }) + '\n';
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) });
    res.end(b);
  });
  res.on('finish', () => { req.socket.lastFinish = now(); });
});
server.keepAliveTimeout = Number(opt.keepalive || 1000);
server.on('connection', (s) => {
  const r = remote(s);
  log('conn', { remote: r });
  s.on('close', () => log('close', { remote: r,
    idle_ms: s.lastFinish === undefined ? null : +(now() - s.lastFinish).toFixed(3) }));
});
server.listen(Number(opt.port || 3000), opt.host || '127.0.0.1', () =>
  log('listening', { keepAliveTimeout: server.keepAliveTimeout, node: process.version }));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
