// tests/store/faultproxy.js - an HTTP proxy on loopback that injects the
// faults the store suites need between tide and a test server (s3rver,
// nginx): server errors, slow transfers, bodies cut short.
//   node faultproxy.js LISTEN_PORT TARGET_PORT CONTROL_FILE
// Every request reads CONTROL_FILE (one line) and obeys it:
//   pass             forward as is
//   status CODE      answer CODE with an S3 error body, forward nothing
//   slow BPS         forward, both bodies throttled to BPS bytes a second
//                    (a request body is forwarded once it has all come)
//   cut N [PART]     forward, but close the connection after N bytes of a
//                    GET's response body (only URLs containing PART)
//   cut-once N [PART] the same, once; then CONTROL_FILE says "pass"
// Each request is logged to CONTROL_FILE.log as "METHOD URL STATUS".
// Headers go through unchanged (Host included), so SigV4 signatures made
// for the proxy's address still verify at s3rver.
'use strict';
const fs = require('node:fs');
const http = require('node:http');

const [listenPort, targetPort, control] = process.argv.slice(2);

function mode() {
  try {
    const [what, arg, part] = fs.readFileSync(control, 'utf8').trim().split(/\s+/);
    return { what: what || 'pass', arg: Number(arg), part };
  } catch {
    return { what: 'pass', arg: 0 };
  }
}

function log(req, status) {
  fs.appendFileSync(`${control}.log`, `${req.method} ${req.url} ${status}\n`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// copy - src into dst, at most bps bytes a second if bps > 0
async function copy(src, dst, bps) {
  for await (const chunk of src) {
    if (!bps) {
      if (!dst.write(chunk)) await new Promise((r) => dst.once('drain', r));
      continue;
    }
    const step = Math.max(1, Math.floor(bps / 20));
    for (let off = 0; off < chunk.length; off += step) {
      dst.write(chunk.subarray(off, off + step));
      await sleep(50);
    }
  }
  dst.end();
}

http.createServer((req, res) => {
  const m = mode();
  if (m.what === 'status') {
    req.resume();
    req.on('end', () => {
      res.writeHead(m.arg, { 'Content-Type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code>' +
              '<Message>injected by faultproxy</Message></Error>');
      log(req, m.arg);
    });
    return;
  }
  const bps = m.what === 'slow' ? m.arg : 0;
  const cut = (m.what === 'cut' || m.what === 'cut-once') && req.method === 'GET' &&
    (!m.part || req.url.includes(m.part)) ? m.arg : -1;
  const up = http.request({ host: '127.0.0.1', port: Number(targetPort), method: req.method,
                            path: req.url, headers: req.headers }, (down) => {
    res.writeHead(down.statusCode, down.headers);
    log(req, down.statusCode);
    if (cut >= 0 && (down.statusCode === 200 || down.statusCode === 206)) {
      let sent = 0;
      down.on('data', (chunk) => {
        if (sent >= cut) return;
        if (sent + chunk.length > cut) {
          const part = chunk.subarray(0, cut - sent);
          sent = cut;
          if (m.what === 'cut-once') fs.writeFileSync(control, 'pass\n');
          down.destroy();
          // let the part reach the client before the connection goes
          res.write(part, () => setTimeout(() => res.socket.destroy(), 200));
          return;
        }
        sent += chunk.length;
        res.write(chunk);
      });
      down.on('end', () => { if (sent < cut) res.end(); });
      return;
    }
    copy(down, res, bps).catch(() => res.destroy());
  });
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
    log(req, 502);
  });
  // the request body is taken whole (throttled if slow) before any of it
  // goes on: a proxy killed mid-upload cuts the client's transfer, and the
  // server behind it never sees part of a body (s3rver would store it)
  const parts = [];
  const sink = { write: (c) => { parts.push(Buffer.from(c)); return true; },
                 once: () => {}, end: () => up.end(Buffer.concat(parts)) };
  copy(req, sink, bps).catch(() => up.destroy());
}).listen(Number(listenPort), '127.0.0.1', () => console.log(`faultproxy listening on ${listenPort}`));
