// Validates an AsyncAPI document with the AsyncAPI project's own parser (@asyncapi/parser):
//   node validate.mjs asyncapi.json
// Exits 1 on any error-level diagnostic; warnings are printed.
import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';

const path = process.argv[2];
const { document, diagnostics } = await new Parser().parse(readFileSync(path, 'utf8'));
const levels = ['error', 'warning', 'info', 'hint'];
for (const d of diagnostics) {
  if (d.severity <= 1) console.log(`${levels[d.severity]} ${d.code} at ${d.path.join('.')}: ${d.message}`);
}
const errors = diagnostics.filter((d) => d.severity === 0);
if (!document || errors.length > 0) {
  console.error(`${path}: ${errors.length} errors`);
  process.exit(1);
}
console.log(`${path}: valid AsyncAPI ${document.version()}: ${document.channels().length} channels, ` +
  `${document.operations().length} operations, ${document.messages().length} messages`);
