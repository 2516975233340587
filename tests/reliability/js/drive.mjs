// Connects to a session's cdpUrl with Playwright or Puppeteer, lists the pages it sees, and
// marks the first one's title, so the test can check the session was driven: node drive.mjs
// playwright|puppeteer URL
const [client, url] = process.argv.slice(2);
let urls;
if (client === "playwright") {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.connectOverCDP(url);
  const pages = browser.contexts().flatMap((context) => context.pages());
  urls = pages.map((page) => page.url());
  await pages[0].evaluate(() => { document.title = "driven by playwright"; });
  await browser.close();
} else {
  const puppeteer = (await import("puppeteer-core")).default;
  const browser = await puppeteer.connect({ browserWSEndpoint: url });
  const pages = await browser.pages();
  urls = pages.map((page) => page.url());
  await pages[0].evaluate(() => { document.title = "driven by puppeteer"; });
  await browser.disconnect();
}
console.log(JSON.stringify({ urls }));
