#!/usr/bin/env node
// One-shot Node 20 http client for the "socket hang up" family samples.
//
//   node get-client.js timeout=MS [keepalive=1] URL [URL...]
//
// Requests each URL in turn (GET, or "POST " before a URL) with the real
// `http` client. timeout=MS uses the `timeout` request option (it also covers
// the connect phase) and, on 'timeout', calls req.destroy() -- the usual
// idiom (req.setTimeout(ms, () => req.destroy())). keepalive=1 shares one
// keep-alive agent (maxSockets 1) so several URLs go over one connection.
//
// Prints one line per request: "OK ..." or "ERROR <code> "<message>" ...",
// the message verbatim (err.code / err.message as the application sees
// them); a response that started and then failed also says which events
// fired ('aborted', res 'error').
'use strict';
const http = require('http');
const opt = {}, urls = [];
for (const a of process.argv.slice(2)) {
  const i = a.indexOf('=');
  if (i > 0 && !a.startsWith('http') && !a.startsWith('POST ')) opt[a.slice(0, i)] = a.slice(i + 1);
  else urls.push(a);
}
const timeout = Number(opt.timeout || 0);
const agent = opt.keepalive ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : undefined;
const t0 = Date.now();
const ts = () => ((Date.now() - t0) / 1000).toFixed(3);
setTimeout(() => { console.log(`ERROR TIMEOUT client gave up at ${ts()}`); process.exit(1); }, 20000).unref();

function one(i) {
  if (i >= urls.length) { if (agent) agent.destroy(); return; }
  let [method, u] = urls[i].startsWith('POST ') ? ['POST', urls[i].slice(5)] : ['GET', urls[i]];
  const url = new URL(u);
  const body = method === 'POST' ? JSON.stringify({ n: i + 1 }) : null;
  let done = false, events = [], got = 0, resp = null;
  const finish = (line) => {
    if (done) return;
    done = true;
    console.log(line);
    setTimeout(() => one(i + 1), 50);
  };
  const req = http.request({ host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port,
                             path: url.pathname + url.search, method, agent,
                             headers: body ? { 'Content-Type': 'application/json',
                                               'Content-Length': Buffer.byteLength(body) } : {},
                             ...(timeout ? { timeout } : {}) }, (res) => {
    resp = res;
    res.on('data', (c) => { got += c.length; });
    res.on('aborted', () => events.push('aborted'));
    res.on('error', (e) => finish(`ERROR ${e.code || '?'} "${e.message}" ${ts()} ${method} ${u} ` +
                                  `status=${res.statusCode} body_bytes=${got} events=${events.join(',') || '-'}`));
    res.on('end', () => finish(`OK ${ts()} ${method} ${u} ${res.statusCode} body_bytes=${got} ` +
                               `complete=${res.complete}`));
  });
  if (timeout) req.on('timeout', () => { events.push('timeout'); req.destroy(); });
  req.on('error', (e) => finish(`ERROR ${e.code || '?'} "${e.message}" ${ts()} ${method} ${u} ` +
                                (resp ? `status=${resp.statusCode} body_bytes=${got} ` : '') +
                                `events=${events.join(',') || '-'}`));
  req.end(body);
}
one(0);
