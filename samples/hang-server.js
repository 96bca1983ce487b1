#!/usr/bin/env node
// The real Node 20 `http` server, misbehaving on purpose for the "socket
// hang up" family samples.
//
//   node hang-server.js mode=timeout host=127.0.0.1 port=3120 timeout=2000
//   node hang-server.js mode=slow    host=127.0.0.1 port=3122 delay=1500
//
// mode=timeout: server.setTimeout(timeout) (the socket inactivity timeout,
//   Node's `server.timeout`, 0 by default since Node 13, 120 s before);
//   /slow... is never answered, so after `timeout` ms of silence Node
//   destroys the socket; any other path is answered at once.
// mode=slow: every request is answered after `delay` ms (a slow backend),
//   whether or not the client is still there.
// Prints "listening" once bound and one line per request/close event.
'use strict';
const http = require('http');
const opt = {};
for (const a of process.argv.slice(2)) {
  const i = a.indexOf('=');
  opt[a.slice(0, i)] = a.slice(i + 1);
}
const mode = opt.mode || 'timeout';
const t0 = Date.now();
const ts = () => ((Date.now() - t0) / 1000).toFixed(3);

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    console.log(`${ts()} ${req.method} ${req.url} from ${req.socket.remotePort}`);
    const body = JSON.stringify({ ok: true, path: req.url }) + '\n';
    const answer = () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (mode === 'timeout') {
      if (!req.url.startsWith('/slow')) answer();       // /slow: never answered
    } else {
      setTimeout(() => {
        console.log(`${ts()} answering ${req.url} to ${req.socket.remotePort} ` +
                    `(client ${req.socket.destroyed ? 'gone' : 'still there'})`);
        answer();
      }, Number(opt.delay || 1500));
    }
  });
});
if (mode === 'timeout') {
  server.setTimeout(Number(opt.timeout || 2000), (socket) => {
    console.log(`${ts()} timeout: destroying socket from ${socket.remotePort}`);
    socket.destroy();
  });
}
server.on('clientError', (e, socket) => { console.log(`${ts()} clientError ${e.code}`); socket.destroy(); });
server.listen(Number(opt.port || 3120), opt.host || '127.0.0.1', () => console.log('listening'));
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
