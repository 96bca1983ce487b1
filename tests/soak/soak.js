// tests/soak/soak.js -- continuous keep-alive traffic on loopback for the
// soak test: a Node http server that closes idle connections after
// IDLE ms, and CONNS clients (each its own keep-alive agent, so its own
// connection) sending requests with random pauses around that timeout, so
// connections are reused, closed idle, reopened, and now and then race.
// Usage: node soak.js PORT SECONDS [CONNS] [IDLE_MS]
'use strict';
const http = require('http');
const port = +process.argv[2], secs = +process.argv[3];
const conns = +(process.argv[4] || 500), idle = +(process.argv[5] || 500);
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end('x'.repeat(100 + (Math.random() * 2000 | 0))));
});
server.keepAliveTimeout = idle;
let ok = 0, errors = 0;
const deadline = Date.now() + secs * 1000;
server.listen(port, '127.0.0.1', () => {
  for (let i = 0; i < conns; i++) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const loop = () => {
      if (Date.now() > deadline) { agent.destroy(); return; }
      const req = http.request({ host: '127.0.0.1', port, path: '/item/' + (i % 50),
                                 method: i % 3 ? 'GET' : 'POST', agent }, (res) => {
        res.resume();
        res.on('end', () => { ok++; setTimeout(loop, Math.random() * idle * 2.5); });
      });
      req.on('error', () => { errors++; setTimeout(loop, 10); });
      req.end(i % 3 ? undefined : '{"n":1}');
    };
    setTimeout(loop, Math.random() * 1000);
  }
  setTimeout(() => {
    console.log(`requests ${ok} errors ${errors}`);
    server.close();
    process.exit(0);
  }, secs * 1000 + 3000);
});
