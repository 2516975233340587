// Drives the server with Firecrawl's own JS SDK: scrape, interact (code and prompt), stop, 404.
// Usage: node sdk_check.mjs SERVER_URL PAGE_URL; prints one JSON object for the Python test.
import Firecrawl from "@mendable/firecrawl-js";

const [serverUrl, pageUrl] = process.argv.slice(2);
const firecrawl = new Firecrawl({ apiKey: "fc-js-test", apiUrl: serverUrl });
const report = {};

const doc = await firecrawl.scrape(pageUrl, { formats: ["markdown", "links"] });
report.scrapeId = doc.metadata.scrapeId;
report.title = doc.metadata.title;
report.statusCode = doc.metadata.statusCode;
report.markdown = doc.markdown;
report.links = doc.links;

const code = await firecrawl.interact(report.scrapeId, {
  code: "await page.click('#inc'); await page.textContent('#count')",
  language: "node",
});
report.code = { success: code.success, result: code.result, exitCode: code.exitCode };

const prompt = await firecrawl.interact(report.scrapeId, { prompt: "Read the count." });
report.prompt = { success: prompt.success, output: prompt.output, liveViewUrl: prompt.liveViewUrl };

const stopped = await firecrawl.stopInteraction(report.scrapeId);
report.stop = stopped;

try {
  await firecrawl.interact(report.scrapeId, { prompt: "anything" });
  report.afterStop = "no error";
} catch (error) {
  report.afterStop = { status: error.status ?? error.statusCode, message: String(error.message) };
}
console.log(JSON.stringify(report));
