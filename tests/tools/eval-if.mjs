// node eval-if.mjs < CASES.json  —  evaluates GitHub Actions `if:` expressions with GitHub's own
// evaluator (npm @actions/expressions, found through NODE_PATH) and prints, as a JSON array, whether
// each is truthy. CASES.json: [{"if": "<expression, with or without ${{ }}>", "contexts": {...}}].
// Contexts not given are empty objects, so `steps.x.outputs.y` reads as null, as on a runner.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = (process.env.NODE_PATH || '').split(path.delimiter).find(dir => fs.existsSync(path.join(dir, '@actions/expressions')));
if (!root) {
  console.error('eval-if: @actions/expressions is not on NODE_PATH (scripts/install-deps --test installs it)');
  process.exit(2);
}
const load = file => import(pathToFileURL(path.join(root, '@actions/expressions/dist', file)).href);
const { Lexer, Parser, Evaluator } = await load('index.js');
const { reviver } = await load('data/reviver.js');
const { truthy } = await load('result.js');

const names = ['github', 'inputs', 'steps', 'runner', 'env', 'vars', 'secrets', 'matrix', 'needs', 'job', 'strategy'];
const cases = JSON.parse(fs.readFileSync(0, 'utf8'));
const results = cases.map(({ if: text, contexts = {} }) => {
  const source = text.trim().replace(/^\$\{\{([\s\S]*)\}\}$/, '$1');
  const lexed = new Lexer(source).lex();
  const expr = new Parser(lexed.tokens, names, []).parse();
  const data = JSON.parse(JSON.stringify(Object.fromEntries(names.map(n => [n, contexts[n] ?? {}]))), reviver);
  return truthy(new Evaluator(expr, data).evaluate());
});
console.log(JSON.stringify(results));
