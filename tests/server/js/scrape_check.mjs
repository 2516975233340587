// Scrape options through Firecrawl's own JS SDK: actions and their outputs, json and summary,
// an ignored option's warning, an unknown option's 400, a failing action's 400.
// Usage: node scrape_check.mjs SERVER_URL SITE_URL; prints one JSON object for the Python test.
import Firecrawl from "@mendable/firecrawl-js";

const [serverUrl, siteUrl] = process.argv.slice(2);
const firecrawl = new Firecrawl({ apiKey: "fc-js-test", apiUrl: serverUrl });
const report = {};

async function failure(call) {
  try {
    await call();
    return "no error";
  } catch (error) {
    return { status: error.status, code: error.code, message: String(error.message) };
  }
}

const schema = {
  type: "object",
  properties: { name: { type: "string" }, price: { type: "number" } },
  required: ["name", "price"],
};
const doc = await firecrawl.scrape(`${siteUrl}/actions.html`, {
  formats: ["markdown", { type: "json", schema, prompt: "Name and price" }, "summary"],
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
report.markdown = doc.markdown;
report.json = doc.json;
report.summary = doc.summary;
report.warning = doc.warning;
report.actions = {
  screenshots: doc.actions.screenshots.map((shot) => shot.slice(0, 22)),
  javascriptReturns: doc.actions.javascriptReturns,
  scrapes: doc.actions.scrapes,
  pdfs: doc.actions.pdfs,
};
report.usage = doc.metadata.usage;
const after = await firecrawl.interact(doc.metadata.scrapeId, {
  code: "await page.inputValue('#q')",
  language: "node",
});
report.afterActions = after.result;
await firecrawl.stopInteraction(doc.metadata.scrapeId);

report.unknownOption = await failure(() =>
  firecrawl.scrape(`${siteUrl}/other.html`, { formats: ["markdown"], onlyMainContnet: false }),
);
report.failingAction = await failure(() =>
  firecrawl.scrape(`${siteUrl}/actions.html`, {
    actions: [{ type: "wait", milliseconds: 10 }, { type: "click", selector: "#absent" }],
  }),
);
console.log(JSON.stringify(report));
