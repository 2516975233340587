// Reads the server's usage through Firecrawl's own JS SDK, unchanged.
// Usage: node usage_check.mjs SERVER_URL API_KEY; prints one JSON object for the Python test.
import Firecrawl from "@mendable/firecrawl-js";

const [serverUrl, apiKey] = process.argv.slice(2);
const firecrawl = new Firecrawl({ apiKey, apiUrl: serverUrl });
const report = {
  credits: await firecrawl.getCreditUsage(),
  tokens: await firecrawl.getTokenUsage(),
  concurrency: await firecrawl.getConcurrency(),
  queue: await firecrawl.getQueueStatus(),
  creditHistory: await firecrawl.getCreditUsageHistorical(true),
  tokenHistory: await firecrawl.getTokenUsageHistorical(true),
  creditTotals: await firecrawl.getCreditUsageHistorical(false),
};
console.log(JSON.stringify(report));
