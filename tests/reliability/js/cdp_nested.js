// The nested-session attacks of cdp_nested.py for node code in a session: `page` is bound.
// DEPTH, PAYLOAD (file, upload, download, cookie), SECRET, DOWNLOAD_DIR are replaced by the
// test; the result is {refused, breach}.
// ON_PAGE: start on the flat session of the code's own page, each level a session of it.
const cdp = ON_PAGE ? await page.context().newCDPSession(page) : await page.context().browser().newBrowserCDPSession();
const own = ON_PAGE ? (await cdp.send("Target.getTargetInfo")).targetInfo.targetId : null;
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
const call = async (method, params, session) => {
  ids += 1;
  let message = { id: ids, method, params };
  if (session) message.sessionId = session;
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
  for (let i = 0; i < DEPTH; i++) targets.push(own || (await cdp.send("Target.createTarget", { url: "about:blank" })).targetId);
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
  } else if (PAYLOAD === "cookie") {
    const infos = (await call("Target.getTargets", {})).targetInfos;
    const theirs = infos.filter((info) => info.url.includes(SECRET)).map((info) => info.targetId);
    if (!theirs.length) {
      said.breach = "listed no other session's target";
    } else {
      const attached = await call("Target.attachToTarget", { targetId: theirs[0], flatten: true });
      const answer = await call("Runtime.evaluate", { expression: "document.cookie", returnByValue: true }, attached.sessionId);
      said.breach = "read their cookie: " + answer.result.value;
    }
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
