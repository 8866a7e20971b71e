// Runs Mermaid's own parser over diagrams: `node parse.mjs FILE...` (or a diagram on stdin
// when no file is given). Prints one line per diagram, `ok FILE` or `FAIL FILE: message`,
// and exits 1 when any diagram fails to parse, 2 when Mermaid cannot be loaded.
//
// Mermaid is an ES module written for browsers: it needs a DOM (jsdom) as `window` and
// `document` before it is imported, and DOMPurify (which Mermaid imports) binds to that
// window when it loads.
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>', { pretendToBeVisual: true });
globalThis.window = dom.window;
globalThis.document = dom.window.document;
for (const name of ['Element', 'HTMLElement', 'SVGElement', 'Node', 'DOMParser', 'MutationObserver']) {
  if (globalThis[name] === undefined && dom.window[name] !== undefined) {
    globalThis[name] = dom.window[name];
  }
}

let mermaid;
try {
  mermaid = (await import('mermaid')).default;
  mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });
} catch (e) {
  console.error(`cannot load mermaid: ${e && e.stack ? e.stack : e}`);
  process.exit(2);
}

const files = process.argv.slice(2);
const inputs = files.length > 0
  ? files.map((f) => [f, readFileSync(f, 'utf8')])
  : [['<stdin>', readFileSync(0, 'utf8')]];

let failed = 0;
for (const [name, text] of inputs) {
  try {
    // With suppressErrors unset, parse throws on a diagram it cannot read.
    const result = await mermaid.parse(text);
    if (!result || result.diagramType !== 'sequence') {
      throw new Error(`not read as a sequence diagram (${result && result.diagramType})`);
    }
    console.log(`ok ${name}`);
  } catch (e) {
    failed += 1;
    const msg = String(e && e.message ? e.message : e).replace(/\n/g, '\n    ');
    console.log(`FAIL ${name}: ${msg}`);
  }
}
console.log(`${inputs.length - failed} parsed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
