// Scrape options through Firecrawl's own JS SDK, unchanged, on the local test site: each action
// type and its outputs in data.actions, the session going on after them, json from a schema and
// from a prompt alone, summary, a non-conforming json answer's 422, an ignored option's warning,
// an unknown option's 400, a failing action's 400. The same cases as the firecrawl-py tests
// (test_server_actions.py, test_server_extract.py).
//
// Usage: node scrape_check.mjs SERVER_URL SITE_URL CASE  runs one case: exit 0 and "ok CASE" on
//                                                       stdout, or exit 1 and why on stderr;
//        node scrape_check.mjs --list                   prints {case: [scripted model answers]}.
// The Python test (test_server_js_sdk.py) queues a case's `model` answers on the server's scripted
// model before running it, and checks the model was asked exactly that often.
import assert from "node:assert/strict";
import { inspect } from "node:util";
import Firecrawl from "@mendable/firecrawl-js";

const KETTLE = { name: "Blue Kettle", price: 39.5 };
const SCHEMA = {
  type: "object",
  properties: { name: { type: "string" }, price: { type: "number" } },
  required: ["name", "price"],
};

let firecrawl;
let site;

function decoded(dataUrl, mime) {
  const prefix = `data:${mime};base64,`;
  assert.ok(dataUrl.startsWith(prefix), `not a ${mime} data URL: ${dataUrl.slice(0, 60)}`);
  return Buffer.from(dataUrl.slice(prefix.length), "base64");
}

/** Runs `check` on a scraped document, then stops its session whatever happened. */
async function checked(doc, check) {
  try {
    await check(doc);
  } finally {
    await firecrawl.stopInteraction(doc.metadata.scrapeId);
  }
}

/** The SDK's error for a scrape that must fail; one that succeeds has its session stopped. */
async function sdkError(scrape) {
  let doc;
  try {
    doc = await scrape();
  } catch (error) {
    return error;
  }
  await firecrawl.stopInteraction(doc.metadata.scrapeId);
  assert.fail(`the scrape succeeded; expected the SDK to throw. It returned ${inspect(doc)}`);
}

async function everyActionTypeThenInteractGoesOn() {
  const doc = await firecrawl.scrape(`${site}/actions.html`, {
    formats: ["markdown"],
    actions: [
      { type: "click", selector: "#q" },
      { type: "write", text: "cats" },
      { type: "press", key: "Enter" },
      { type: "wait", selector: "#late.ready" },
      { type: "wait", milliseconds: 50 },
      { type: "scroll", direction: "down" },
      { type: "screenshot", fullPage: false, quality: 40, viewport: { width: 800, height: 600 } },
      { type: "scrape" },
      { type: "executeJavascript", script: "return document.querySelector('#result').textContent" },
      { type: "executeJavascript", script: "return window.scrollY > 0" },
      { type: "pdf", format: "A4", landscape: true, scale: 1 },
    ],
  });
  await checked(doc, async () => {
    // The content is the page as the actions left it, not as it loaded.
    assert.match(doc.markdown, /Results for cats/);
    assert.match(doc.markdown, /Late result for cats/);
    assert.equal(doc.warning, undefined);
    const outputs = doc.actions;
    const kinds = ["javascriptReturns", "pdfs", "scrapes", "screenshots"];
    assert.deepEqual(Object.keys(outputs).sort(), kinds);
    assert.equal(outputs.screenshots.length, 1);
    const jpeg = decoded(outputs.screenshots[0], "image/jpeg");
    assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8]);
    assert.equal(outputs.scrapes.length, 1);
    assert.equal(outputs.scrapes[0].url, `${site}/actions.html`);
    assert.match(outputs.scrapes[0].html, /Late result for cats/);
    assert.deepEqual(outputs.javascriptReturns, [
      { type: "string", value: "Results for cats" },
      { type: "boolean", value: true },
    ]);
    assert.equal(outputs.pdfs.length, 1);
    assert.equal(decoded(outputs.pdfs[0], "application/pdf").subarray(0, 4).toString(), "%PDF");

    // The session goes on from that page: typed text, pressed key, scroll position, size.
    const state = await firecrawl.interact(doc.metadata.scrapeId, {
      code:
        "const seen = [await page.inputValue('#q'), await page.textContent('#keys'), " +
        "await page.evaluate('window.scrollY > 0'), await page.evaluate('innerWidth')];\n" +
        "seen.join('|')",
      language: "node",
    });
    assert.equal(state.result, "cats|Keys: c a t s Enter|true|800");
  });
}

async function jsonWithSchemaAndPromptSummaryAfterActions() {
  const doc = await firecrawl.scrape(`${site}/actions.html`, {
    formats: ["markdown", { type: "json", schema: SCHEMA, prompt: "Name and price" }, "summary"],
    actions: [
      { type: "click", selector: "#q" },
      { type: "write", text: "kettle" },
      { type: "click", selector: "#go" },
      { type: "wait", selector: "#late.ready" },
      { type: "screenshot", fullPage: true },
      { type: "executeJavascript", script: "return document.querySelector('#late').textContent" },
    ],
    location: { country: "FR" },
  });
  await checked(doc, async () => {
    assert.match(doc.markdown, /Late result for kettle/);
    assert.deepEqual(doc.json, KETTLE);
    assert.equal(doc.summary, "A search page that found a kettle.");
    assert.equal(doc.metadata.usage.model, "scripted");
    // location is accepted and not applied: said in the warning, not refused.
    assert.match(doc.warning, /^This server does not apply these options/);
    assert.match(doc.warning, /location \(/);
    const { screenshots, ...others } = doc.actions;
    assert.equal(screenshots.length, 1);
    assert.equal(decoded(screenshots[0], "image/png").subarray(1, 4).toString(), "PNG");
    assert.deepEqual(others, {
      javascriptReturns: [{ type: "string", value: "Late result for kettle" }],
      scrapes: [],
      pdfs: [],
    });
    const after = await firecrawl.interact(doc.metadata.scrapeId, {
      code: "await page.inputValue('#q')",
      language: "node",
    });
    assert.equal(after.result, "kettle");
  });
}

async function jsonFromAPromptAloneAndSummary() {
  const doc = await firecrawl.scrape(`${site}/product.html`, {
    formats: [{ type: "json", prompt: "Product name and volume in litres" }, "summary"],
  });
  await checked(doc, async () => {
    // The answer's preamble and code fence are dropped; no schema to check it against.
    assert.deepEqual(doc.json, { product: "Blue Kettle", litres: 1.7 });
    assert.match(doc.summary, /^A product page for the Blue Kettle/);
    assert.equal(doc.markdown, undefined, "markdown was not asked for");
  });
}

async function nonConformingJsonIsA422() {
  const error = await sdkError(() =>
    firecrawl.scrape(`${site}/product.html`, { formats: [{ type: "json", schema: SCHEMA }] }),
  );
  assert.equal(error.status, 422, inspect(error));
  assert.equal(error.code, "SCRAPE_JSON_SCHEMA_MISMATCH");
  assert.match(error.message, /did not match the json format's schema/);
  assert.match(error.message, /at \$: 'price' is a required property/);
  assert.equal(error.details.answer, '{"name": "Blue Kettle"}');
}

async function unknownOptionIsA400() {
  const error = await sdkError(() =>
    firecrawl.scrape(`${site}/other.html`, { formats: ["markdown"], onlyMainContnet: false }),
  );
  assert.equal(error.status, 400, inspect(error));
  assert.equal(error.code, "BAD_REQUEST");
  assert.match(error.message, /unknown field 'onlyMainContnet'/);
}

async function failingActionIsA400() {
  const error = await sdkError(() =>
    firecrawl.scrape(`${site}/actions.html`, {
      actions: [{ type: "wait", milliseconds: 10 }, { type: "click", selector: "#absent" }],
    }),
  );
  assert.equal(error.status, 400, inspect(error));
  assert.equal(error.code, "SCRAPE_ACTION_ERROR");
  assert.match(error.message, /actions\[1\] \(click '#absent'\) failed/);
  assert.equal(error.details.index, 1);
}

// Each case: what the scripted model answers, in order, and the check.
const CASES = {
  "every-action-type-then-interact-goes-on": { model: [], run: everyActionTypeThenInteractGoesOn },
  "json-with-schema-and-prompt-summary-after-actions": {
    model: [JSON.stringify(KETTLE), "A search page that found a kettle."],
    run: jsonWithSchemaAndPromptSummaryAfterActions,
  },
  "json-from-a-prompt-alone-and-summary": {
    model: [
      'Here it is:\n```json\n{"product": "Blue Kettle", "litres": 1.7}\n```',
      "A product page for the Blue Kettle, a 1.7 litre electric kettle at 39.50 EUR.",
    ],
    run: jsonFromAPromptAloneAndSummary,
  },
  // The first answer is not JSON, the retry misses a required property: no third try.
  "non-conforming-json-is-a-422": {
    model: ["I could not find a price.", '{"name": "Blue Kettle"}'],
    run: nonConformingJsonIsA422,
  },
  "unknown-option-is-a-400": { model: [], run: unknownOptionIsA400 },
  "failing-action-is-a-400": { model: [], run: failingActionIsA400 },
};

const args = process.argv.slice(2);
if (args[0] === "--list") {
  const answers = Object.entries(CASES).map(([name, { model }]) => [name, model]);
  console.log(JSON.stringify(Object.fromEntries(answers)));
} else {
  const [serverUrl, siteUrl, name] = args;
  const kase = CASES[name];
  if (!kase) {
    console.error(`no case ${JSON.stringify(name)}; cases: ${Object.keys(CASES).join(", ")}`);
    process.exit(2);
  }
  firecrawl = new Firecrawl({ apiKey: "fc-js-test", apiUrl: serverUrl });
  site = siteUrl;
  try {
    await kase.run();
    console.log(`ok ${name}`);
  } catch (error) {
    console.error(`${name} failed:\n${inspect(error, { depth: 6 })}`);
    process.exitCode = 1;
  }
}
