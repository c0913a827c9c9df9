// Runs isbot (npm) over the vendored lists; prints JSON with its verdicts.
const fs = require('fs');
const path = require('path');
const [isbotDir, dataDir] = process.argv.slice(2);
const { isbot } = require(path.join(isbotDir, 'index.js'));
const version = JSON.parse(fs.readFileSync(path.join(isbotDir, 'package.json'))).version;
const lines = (f) => fs.readFileSync(path.join(dataDir, f), 'utf8').split('\n').filter((l) => l.length);
const out = { isbot: version };
for (const f of ['crawlers.txt', 'browsers.txt']) {
  const uas = lines(f);
  const flagged = uas.filter((ua) => isbot(ua));
  out[f] = { total: uas.length, flagged: flagged.length,
             misjudged: f === 'crawlers.txt' ? uas.filter((ua) => !isbot(ua)) : flagged };
}
console.log(JSON.stringify(out, null, 1));
