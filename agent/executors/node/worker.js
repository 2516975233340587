// The warm node worker: runs Playwright code on one session's browser, one request at a time.
//
// Started by agent/executors (see worker.py there for the protocol). It attaches over CDP to the
// one browser named by AGENT_CDP_URL with playwright-core, answers {"ready": true} on the answer
// pipe, then for each request line runs the code with `page`, `context`, `browser`, `playwright`
// and `require` bound, top-level await allowed, and the value of the last expression statement
// (found with acorn, so strings, comments and regexes cannot fool it) as the result.
"use strict";

const fs = require("fs");
const net = require("net");
const path = require("path");
const readline = require("readline");
const util = require("util");
const vm = require("vm");
const { createRequire } = require("module");
const acorn = require("acorn");
const playwright = require("playwright-core");

const requestFd = Number(process.env.AGENT_REQUEST_FD);
const answerFd = Number(process.env.AGENT_RESPONSE_FD);
const resultLimit = Number(process.env.AGENT_RESULT_LIMIT || 1048576);
delete process.env.AGENT_REQUEST_FD;
delete process.env.AGENT_RESPONSE_FD;
const PAGE_WAIT_MS = 3000;

function send(message) {
  fs.writeSync(answerFd, JSON.stringify(message) + "\n");
}

// The user's `require`: modules next to their working directory first, then this package's own
// (so `require("playwright-core")` works from code).
const cwdRequire = createRequire(path.join(process.cwd(), "code.js"));
function userRequire(id) {
  try {
    return cwdRequire(id);
  } catch (error) {
    if (error && error.code === "MODULE_NOT_FOUND") return require(id);
    throw error;
  }
}

function prepare(code) {
  // A leading #! line is legal in a script file but not inside the wrapper function.
  const source = code.startsWith("#!") ? "//" + code.slice(2) : code;
  const ast = acorn.parse(source, {
    ecmaVersion: "latest",
    sourceType: "script",
    allowAwaitOutsideFunction: true,
    allowReturnOutsideFunction: true,
  });
  let body = source;
  const last = ast.body[ast.body.length - 1];
  if (last && last.type === "ExpressionStatement" && !last.directive) {
    const expression = source.slice(last.expression.start, last.expression.end);
    body = source.slice(0, last.start) + "return (" + expression + "\n);" + source.slice(last.end);
  }
  // Kept on the first line so that line numbers in stack traces are the user's own.
  const wrapped =
    "(async function (page, context, browser, playwright, require, __filename, __dirname) {" +
    body +
    "\n})";
  const script = new vm.Script(wrapped, {
    filename: "code.js",
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  return script.runInThisContext();
}

function render(value) {
  let text;
  if (value === undefined || value === null) text = "";
  else if (typeof value === "string") text = value;
  else {
    try {
      text = JSON.stringify(value);
    } catch (_) {
      text = undefined;
    }
    if (text === undefined) text = util.inspect(value, { depth: 4 });
  }
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > resultLimit) {
    return [bytes.subarray(0, resultLimit).toString("utf8").replace(/\uFFFD$/, ""), true];
  }
  return [text, false];
}

function formatError(error) {
  if (!(error instanceof Error)) return "Uncaught " + util.inspect(error) + "\n";
  const stack = String(error.stack || error);
  const lines = stack
    .split("\n")
    .filter((line) => !line.includes(__filename) && !line.includes("node:internal"));
  return lines.join("\n") + "\n";
}

// The error in one line: its type and the first line of its message (Playwright's messages go
// on with a call log, and the stack's first frame says nothing about what went wrong).
function summarize(error) {
  if (!(error instanceof Error)) return "Uncaught " + util.inspect(error).split("\n")[0];
  const message = String(error.message || "")
    .split("\n")
    .map((line) => line.trim())
    .find((line) => line);
  const name = error.name || (error.constructor && error.constructor.name) || "Error";
  return message ? name + ": " + message : name;
}

const targetIds = new WeakMap();

async function targetIdOf(page) {
  if (!targetIds.has(page)) {
    const session = await page.context().newCDPSession(page);
    const { targetInfo } = await session.send("Target.getTargetInfo");
    await session.detach();
    targetIds.set(page, targetInfo.targetId);
  }
  return targetIds.get(page);
}

async function findPage(browser, targetId) {
  const deadline = Date.now() + PAGE_WAIT_MS;
  for (;;) {
    for (const context of browser.contexts()) {
      for (const page of context.pages()) {
        if ((await targetIdOf(page)) === targetId) return page;
      }
    }
    if (Date.now() > deadline) {
      throw new Error("the session's current page is not visible to the node executor");
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// Events reach each CDP client on its own connection; one evaluate on the page (retried when it
// met the old document) is answered only after this connection has seen a navigation the session
// just made, so the code does not start on a document that is already gone.
async function catchUp(page) {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      // A busy page gets one second: the code may be meant to deal with it.
      const timeout = new Promise((resolve) => setTimeout(resolve, 1000, "busy"));
      const probe = page.evaluate("0");
      probe.catch(() => {}); // if the timeout wins, a late failure must not surface later
      await Promise.race([probe, timeout]);
      return;
    } catch (error) {
      const message = String(error && error.message);
      if (!message.includes("context was destroyed") && !message.includes("navigat")) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

async function runOne(browser, request) {
  let fn;
  try {
    fn = prepare(request.code);
  } catch (error) {
    if (error instanceof SyntaxError) {
      process.stderr.write("SyntaxError: " + error.message + "\n");
      return { exit_code: 1, result: "", result_truncated: false, error: summarize(error) };
    }
    throw error;
  }
  const page = await findPage(browser, request.target_id);
  await catchUp(page);
  process.exitCode = undefined;
  try {
    const value = await fn(
      page,
      page.context(),
      browser,
      playwright,
      userRequire,
      path.join(process.cwd(), "code.js"),
      process.cwd(),
    );
    const [result, truncated] = render(value);
    const exitCode = Number(process.exitCode || 0);
    process.exitCode = undefined;
    return { exit_code: exitCode, result, result_truncated: truncated };
  } catch (error) {
    process.stderr.write(formatError(error));
    process.exitCode = undefined;
    return { exit_code: 1, result: "", result_truncated: false, error: summarize(error) };
  }
}

async function main() {
  let browser;
  try {
    browser = await playwright.chromium.connectOverCDP(process.env.AGENT_CDP_URL);
  } catch (error) {
    send({ ready: false, error: "could not attach to the browser: " + error.message });
    process.exit(1);
  }
  // A callback or promise the code left behind must not take the worker down.
  process.on("uncaughtException", (error) => process.stderr.write(formatError(error)));
  process.on("unhandledRejection", (reason) =>
    process.stderr.write("Unhandled rejection: " + formatError(reason)),
  );
  const input = new net.Socket({ fd: requestFd, readable: true, writable: false });
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let queue = Promise.resolve();
  lines.on("line", (line) => {
    queue = queue.then(async () => {
      const request = JSON.parse(line);
      let answer;
      try {
        answer = await runOne(browser, request);
      } catch (error) {
        process.stderr.write(formatError(error));
        answer = { exit_code: 1, result: "", result_truncated: false, error: summarize(error) };
      }
      // stdout and stderr are synchronous for pipes on Linux: the sentinels follow all output.
      process.stdout.write(request.sentinel);
      process.stderr.write(request.sentinel);
      send(answer);
    });
  });
  lines.on("close", () => process.exit(0));
  send({ ready: true });
}

main();
