const { Client, Message } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const fs = require('fs'); const zlib = require('zlib');
const extra = (process.env.FLOOR_EXTRA || '').split(',').filter(Boolean);
for (const m of extra) require(m);
const [cs, caFile] = process.argv.slice(2);
const c = Client.fromConnectionString(cs, Mqtt);
c.setOptions({ ca: fs.readFileSync(caFile, 'utf8') });
let db;
(async () => {
  await c.open();
  if (extra.includes('classic-level')) { const { ClassicLevel } = require('classic-level'); db = new ClassicLevel(process.argv[4], { valueEncoding: 'buffer', writeBufferSize: 2<<20, cacheSize: 2<<20 }); await db.open(); }
  let seq = 0;
  setInterval(async () => {
    const rows = []; for (let i = 0; i < 100; i++) rows.push({ s: 'line' + (i % 5), p: 'p' + i, v: Math.random() * 100, t: Date.now(), seq: seq++ });
    const body = zlib.gzipSync(JSON.stringify(rows));
    if (db) await db.batch(rows.map(r => ({ type: 'put', key: String(r.seq).padStart(12, '0'), value: Buffer.from(JSON.stringify(r)) })), { sync: true });
    const m = new Message(body); m.contentEncoding = 'gzip'; m.contentType = 'application/json';
    await c.sendEvent(m);
  }, 200);
  setTimeout(() => { const s = fs.readFileSync('/proc/self/status', 'utf8'); const g = k => (parseInt(new RegExp(k + ':\\s+(\\d+)').exec(s)[1]) / 1024).toFixed(1); console.log(`rss ${g('VmRSS')} anon ${g('RssAnon')} file ${g('RssFile')} hwm ${g('VmHWM')} extra=${extra.join('+')}`); process.exit(0); }, 30000);
})();
