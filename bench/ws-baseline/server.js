// bench/gateway's baseline: the same fan-out as wt-gateway's pushes, on the
// npm `ws` package, in one Node process. A client sends
// {"type":"subscribe","project":P} and gets {"type":"subscribed","project":P};
// a publisher sends {"type":"publish","project":P,"data":TEXT} and the server
// sends TEXT, unchanged, to every subscriber of P (as the gateway parses an
// event once and sends its frame to each subscriber).
//   node server.js PORT     prints "listening PORT" once it accepts
'use strict';
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 8090);
const subs = new Map(); // project -> Set of sockets

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  backlog: 4096,
  perMessageDeflate: false,
  clientTracking: false,
});

wss.on('connection', (ws) => {
  const mine = new Set();
  ws.on('message', (buf) => {
    let m;
    try {
      m = JSON.parse(buf);
    } catch {
      return;
    }
    if (m.type === 'subscribe') {
      let s = subs.get(m.project);
      if (!s) subs.set(m.project, (s = new Set()));
      s.add(ws);
      mine.add(m.project);
      ws.send(JSON.stringify({ type: 'subscribed', project: m.project }));
    } else if (m.type === 'publish') {
      const s = subs.get(m.project);
      if (s) for (const c of s) c.send(m.data);
    }
  });
  ws.on('close', () => {
    for (const p of mine) subs.get(p)?.delete(ws);
  });
  ws.on('error', () => {});
});
wss.on('listening', () => console.log(`listening ${port}`));
process.on('SIGTERM', () => process.exit(0));
