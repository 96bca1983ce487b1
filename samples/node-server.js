#!/usr/bin/env node
// Keep-alive HTTP/1.1 server used by the capture scripts.
//
//   node node-server.js mode=http  host=127.0.0.1 port=3001 keepalive=300
//   node node-server.js mode=https host=127.0.0.1 port=8443 keepalive=300 key=K cert=C
//   node node-server.js mode=raw   host=10.77.0.2 port=3100 close=300 [key=K cert=C]
//
// mode=http/https: the real Node http(s) server; idle keep-alive connections
//   are closed by Node itself after server.keepAliveTimeout (Node 20 sends the
//   FIN about keepAliveTimeout + 1 s after the response).
//   The Node server announces "Keep-Alive: timeout=N" and the Node 20 agent
//   honours it (drops the socket 1 s before the hint; hint 0 = no reuse), so
//   Node-to-Node is well protected: used here for the clean capture.
// mode=http extras: /chunked... answers with a chunked body (three writes);
//   a request with "Expect: 100-continue" gets Node's automatic
//   "100 Continue"; HEAD gets the headers only (Node's own handling).
// "?size=N" in any mode pads the response body to N bytes.
// mode=raw: a plain net (or tls, with key= cert=) server speaking minimal
//   HTTP/1.1 (requests without a body, or with Content-Length) that destroys
//   the socket exactly `close` ms after each response and, like many servers
//   (Go net/http, nginx by default), sends no Keep-Alive hint: the server side
//   of a deterministic race.
// Prints "listening" on stdout once bound; exits on SIGTERM/SIGINT.
'use strict';
const fs = require('fs');

const opt = {};
for (const a of process.argv.slice(2)) {
  const i = a.indexOf('=');
  opt[a.slice(0, i)] = a.slice(i + 1);
}
const mode = opt.mode || 'http';
const host = opt.host || '127.0.0.1';
const port = Number(opt.port || 3001);

function body(path) {
  const b = JSON.stringify({ ok: true, path, pid: process.pid }) + '\n';
  // "?size=N" pads the body to N bytes (a response of several segments)
  const m = /[?&]size=(\d+)/.exec(path);
  return m && Number(m[1]) > b.length ? b + 'x'.repeat(Number(m[1]) - b.length - 1) + '\n' : b;
}

let server;
if (mode === 'http' || mode === 'https') {
  const handler = (req, res) => {
    let n = 0;
    req.on('data', (c) => { n += c.length; });
    req.on('end', () => {
      const b = body(req.url);
      if (req.url.startsWith('/chunked')) {
        // no Content-Length: Node sends Transfer-Encoding: chunked, one chunk
        // per write (written 20 ms apart, so each is its own segment)
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        const parts = ['alpha\n', 'bravo\n', 'charlie\n'];
        const next = () => parts.length ? (res.write(parts.shift()), setTimeout(next, 20)) : res.end();
        return next();
      }
      res.writeHead(200, { 'Content-Type': 'application/json',
                           'Content-Length': Buffer.byteLength(b) });
      res.end(b);
    });
  };
  if (mode === 'https') {
    server = require('https').createServer(
      { key: fs.readFileSync(opt.key), cert: fs.readFileSync(opt.cert) }, handler);
  } else {
    server = require('http').createServer(handler);
  }
  server.keepAliveTimeout = Number(opt.keepalive || 300);
} else if (mode === 'raw') {
  const closeAfter = Number(opt.close || 300);
  const onConn = (sock) => {
    let buf = Buffer.alloc(0);
    let timer = null;
    sock.on('data', (d) => {
      if (timer) { clearTimeout(timer); timer = null; }
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.slice(0, end).toString('latin1');
        const m = /content-length:\s*(\d+)/i.exec(head);
        const len = m ? Number(m[1]) : 0;
        if (buf.length < end + 4 + len) return;
        buf = buf.slice(end + 4 + len);
        const path = head.split(' ')[1] || '/';
        const b = body(path);
        sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n' +
                   `Content-Length: ${Buffer.byteLength(b)}\r\n` +
                   'Connection: keep-alive\r\n\r\n' + b);
        // idle close: destroy() = close(2): a later request gets RST
        timer = setTimeout(() => sock.destroy(), closeAfter);
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => { if (timer) clearTimeout(timer); });
  };
  server = opt.key
    ? require('tls').createServer({ key: fs.readFileSync(opt.key),
                                    cert: fs.readFileSync(opt.cert) }, onConn)
    : require('net').createServer(onConn);
} else {
  console.error('unknown mode', mode);
  process.exit(2);
}

server.on('clientError', (err, sock) => { sock.destroy(); });
server.listen(port, host, () => { console.log('listening'); });
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
