"""The sandbox, attacked: code in session A tries to reach session B, the server and the machine.

Every attack runs as code in A (python, node and bash where the attack applies) through the real
server, in A's sandbox, and must fail; after each, B still answers and so does the server. Then
``cdpUrl``: refused without its token or with a wrong one; with it, Playwright (Python and Node)
and Puppeteer drive the session, and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from playwright.async_api import async_playwright

from agent.executors.sandbox import BOX_RPC_PORT
from tests.harness import RunningServer
from tests.reliability.boxed import boxed_server, victim_session
from tests.subprocesses import npm_packages

SECRET = "sk-sandbox-test-9c2e7f4a1b3d5e6f"
"""A credential in the server's own environment, as a model key would be."""
JS = Path(__file__).parent / "js"


@pytest.fixture(scope="module")
def served(profiles_dir: Path) -> Iterator[RunningServer]:
    limits = {"sandbox_memory_mb": 1024, "sandbox_file_size_mb": 20}
    with boxed_server(profiles_dir, secret=SECRET, **limits) as server:
        yield server


@pytest.fixture(scope="module")
def victim(served: RunningServer, site: str, profiles_dir: Path) -> Iterator[dict[str, str]]:
    """Session B, logged in with a saved profile, and what A's code could aim at."""
    bob = victim_session(served, site)
    reply = served.interact(bob, code="1", language="python").json()
    yield {
        "id": bob,
        "profile": str(profiles_dir / "bob.json"),
        "cdp_socket": str(served.registry.get(bob).browser_session.cdp_socket),
        "cdp_url": reply["cdpUrl"],
        "server_pid": str(os.getpid()),
        "api_port": served.url.rsplit(":", 1)[1],
    }
    served.stop_session(bob)


def run(
    served: RunningServer, session: str, code: str, language: str, timeout: int = 30
) -> dict[str, Any]:
    return served.run_code(session, code, language, timeout=timeout)


def still_fine(served: RunningServer, victim: dict[str, str]) -> None:
    """B's session and the server are untouched."""
    reply = run(served, victim["id"], "await page.title()", "python")
    assert reply["success"], reply
    assert httpx.get(f"{served.url}/health", timeout=10).status_code == 200
    assert "bob" in Path(victim["profile"]).read_text()


def _listening_loopback_ports() -> list[int]:
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return sorted(ports)


# -- the attack table ---------------------------------------------------------------------------

ATTACKS: dict[str, dict[str, str]] = {
    "open B's browser over any loopback port": {
        "python": """
import socket
reached = []
for port in PORTS:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        reached.append(port)
    except OSError:
        pass
assert not reached, f"BREACH: reached host ports {reached}"
""",
        "node": """
const net = require("net");
const reached = [];
for (const port of PORTS) {
  await new Promise((done) => {
    const s = net.connect({host: "127.0.0.1", port, timeout: 1000});
    s.on("connect", () => { reached.push(port); s.destroy(); done(); });
    s.on("error", done); s.on("timeout", () => { s.destroy(); done(); });
  });
}
if (reached.length) throw new Error("BREACH: reached host ports " + reached);
""",
        "bash": """
for port in PORTS_SH; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then echo "BREACH: reached $port"; exit 9; fi
done
""",
    },
    "open B's DevTools socket": {
        "python": """
import os, socket
assert not os.path.exists(CDP_SOCKET), "B's socket is visible"
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(CDP_SOCKET)
    raise AssertionError("BREACH: connected to B's DevTools")
except OSError:
    pass
""",
        "bash": "test ! -e CDP_SOCKET_SH",
    },
    "act on a session through agent browser without the run's token": {
        # The box's loopback port that bash's `agent browser` uses reaches the session's socket
        # as its path does: with the run's token, or not at all.
        "bash": """
for token in "" guess "${AGENT_SESSION_TOKEN}x" "${AGENT_SESSION_TOKEN:1}"; do
  out=$(AGENT_SESSION_TOKEN="$token" agent browser get url 2>&1)
  case "$out" in *://*) echo "BREACH: agent browser let token '$token' in: $out" ;; esac
  out=$( { printf 'argv\\n%s\\0/work\\0%s\\0%s\\0%s\\0' "$token" 2 get url >&3; cat <&3; } \\
    3<>/dev/tcp/127.0.0.1/RPC_PORT_SH )
  case "$out" in *://*) echo "BREACH: port RPC_PORT_SH let token '$token' in: $out" ;; esac
  case "$out" in *"not allowed"*) ;; *) echo "the port did not answer: $out"; exit 9 ;; esac
done
""",
    },
    "read B's saved profile": {
        "python": """
try:
    open(PROFILE).read()
    raise AssertionError("BREACH: read B's profile")
except OSError:
    pass
""",
        "node": """
let read = false;
try { require("fs").readFileSync(PROFILE); read = true; } catch (e) {}
if (read) throw new Error("BREACH: read B's profile");
""",
        "bash": "! cat PROFILE_SH 2>/dev/null && ! ls $(dirname PROFILE_SH) 2>/dev/null",
    },
    "read the server's environment or API keys": {
        "python": """
import os, glob
assert KEY not in str(dict(os.environ)), "BREACH: the key is in the environment"
for path in glob.glob("/proc/*/environ") + [f"/proc/{SERVER_PID}/environ"]:
    try:
        data = open(path, "rb").read()
    except OSError:
        continue
    assert KEY.encode() not in data, f"BREACH: the key is readable in {path}"
""",
        "bash": "! grep -rs KEY_SH /proc/*/environ /proc/*/cmdline /etc /opt /root 2>/dev/null",
    },
    "signal or kill the server or B's processes": {
        "python": """
import os, signal
for pid in (SERVER_PID, 1):
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
""",
        "bash": "kill -9 SERVER_PID_SH 2>/dev/null; kill -9 -1 2>/dev/null; true",
    },
    "read the server's files through A's own browser": {
        # Chromium runs outside the sandbox, as the server's user: its DevTools must not open
        # file:// for the code, nor hand a file input the server's files.
        "python": """
profile = "file://" + PROFILE
for url in [profile, f"file:///proc/{SERVER_PID}/environ", "view-source:" + profile]:
    try:
        await page.goto(url)
    except Exception as exc:
        assert "only web URLs" in str(exc), exc
    else:
        raise AssertionError(f"BREACH: opened {url}: {(await page.content())[:200]}")
cdp = await page.context.new_cdp_session(page)
document = await cdp.send("DOM.getDocument")
for method, params in [
    ("Page.navigate", {"url": "file://" + PROFILE}),
    ("Target.createTarget", {"url": "file://" + PROFILE}),
    ("DOM.setFileInputFiles", {"files": [PROFILE], "nodeId": document["root"]["nodeId"]}),
    ("Target.exposeDevToolsProtocol", {"targetId": "any", "bindingName": "cdp"}),
]:
    try:
        await cdp.send(method, params)
    except Exception as exc:
        assert "allowed" in str(exc), (method, exc)
    else:
        raise AssertionError(f"BREACH: {method} went through")
""",
        "node": """
let opened = false;
try { await page.goto("file://" + PROFILE); opened = true; } catch (e) {
  if (!String(e).includes("only web URLs")) throw e;
}
if (opened) throw new Error("BREACH: opened B's profile: " + (await page.content()).slice(0, 200));
""",
        "bash": """
out=$(agent-browser open "file://PROFILE_SH" 2>&1; agent-browser get text body 2>&1)
if [[ "$out" == *bob* ]]; then echo "BREACH: $out"; fi
""",
    },
    "fork bomb": {
        # Processes that never end, started until the session's process limit stops them.
        # Bash gives up on a fork that fails, so the bomb runs in a subshell that dies at the
        # limit; the shell outside then uses builtins only until the bomb's processes are gone.
        "bash": """
rm -f /tmp/bomb
( for ((i = 0; i < 2000; i++)); do sleep 60 & echo $! >> /tmp/bomb; done ) 2>/dev/null
count=0
while read -r pid; do kill -9 "$pid" 2>/dev/null; count=$((count + 1)); done < /tmp/bomb
echo "started $count"
if (( count >= 2000 )); then echo "BREACH: $count processes"; fi
rm -f /tmp/bomb
(( count > 0 ))
""",
        "node": """
const { spawn } = require("child_process");
const kids = [];
let refused = null;
for (let i = 0; i < 2000 && !refused; i++) {
  const child = spawn("sleep", ["60"]);
  await new Promise((done) => {
    child.once("spawn", done);
    child.once("error", (e) => { refused = e; done(); });
  });
  if (!refused) kids.push(child);
}
for (const kid of kids) kid.kill("SIGKILL");
if (!refused) throw new Error("BREACH: started " + kids.length + " processes");
""",
        "python": """
import os, signal
children = []
try:
    for _ in range(2000):
        pid = os.fork()
        if pid == 0:
            try:
                signal.pause()
            finally:
                os._exit(0)
        children.append(pid)
    raise AssertionError(f"BREACH: forked {len(children)} processes")
except BlockingIOError:
    pass
finally:
    for pid in children:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
assert 0 < len(children) < 2000, len(children)
""",
    },
    "allocate far past the memory limit": {
        "python": """
try:
    block = bytearray(8 * 1024**3)
    raise AssertionError("BREACH: allocated 8 GiB")
except MemoryError:
    pass
""",
        "node": """
let got = false;
try {
  const held = [];
  for (let i = 0; i < 80; i++) held.push(Buffer.alloc(100 * 1024 * 1024, 1));
  got = true;
} catch (e) {}
if (got) throw new Error("BREACH: allocated 8 GB");
""",
    },
    "fill the disk past the file-size limit": {
        "bash": """
dd if=/dev/zero of=/work/big bs=1M count=200 2>/dev/null
size=$(stat -c %s /work/big); rm -f /work/big
test "$size" -le $((20 * 1024 * 1024))
""",
        "python": """
import os
try:
    with open("/work/big", "wb") as f:
        for _ in range(200):
            f.write(b"\\0" * 1024 * 1024)
    raise AssertionError("BREACH: wrote 200 MiB")
except OSError:
    pass
finally:
    if os.path.exists("/work/big"):
        os.remove("/work/big")
""",
    },
    "write outside the working directory": {
        "bash": """
for target in /etc/pwned /usr/pwned /opt/agent/pwned /root/pwned /pwned /run/agent/pwned; do
  if (echo x > "$target") 2>/dev/null; then echo "BREACH: wrote $target"; exit 9; fi
done
echo fine > /work/inside && echo fine > /tmp/inside
""",
        "node": """
for (const target of ["/etc/pwned", "/usr/pwned", "/opt/agent/pwned", "/pwned"]) {
  let wrote = false;
  try { require("fs").writeFileSync(target, "x"); wrote = true; } catch (e) {}
  if (wrote) throw new Error("BREACH: wrote " + target);
}
""",
    },
}


# Attacks that may take down the attacking code itself: `kill -9 -1` kills every process of the
# sandbox's user, the script included, and V8 aborts a process past its memory limit rather than
# throw. What counts then is that the attack did not get through (no BREACH), that nobody else
# is harmed, and that the session still runs code afterwards.
MAY_DIE = {
    ("signal or kill the server or B's processes", "bash"),
    ("allocate far past the memory limit", "node"),
}


def _cases() -> list[tuple[str, str]]:
    return [(attack, language) for attack, codes in ATTACKS.items() for language in codes]


@pytest.mark.parametrize(("attack", "language"), _cases())
def test_an_attack_from_one_sessions_code_fails_and_harms_nobody(
    served: RunningServer, victim: dict[str, str], attacker: str, attack: str, language: str
) -> None:
    ports = _listening_loopback_ports()
    values = {
        "PORTS": json.dumps(ports),
        "PORTS_SH": " ".join(map(str, ports)),
        "CDP_SOCKET": json.dumps(victim["cdp_socket"]),
        "CDP_SOCKET_SH": victim["cdp_socket"],
        "PROFILE": json.dumps(victim["profile"]),
        "PROFILE_SH": victim["profile"],
        "KEY": json.dumps(SECRET),
        "KEY_SH": SECRET,
        "SERVER_PID": victim["server_pid"],
        "SERVER_PID_SH": victim["server_pid"],
        "RPC_PORT_SH": str(BOX_RPC_PORT),
    }
    code = ATTACKS[attack][language]
    for name in sorted(values, key=len, reverse=True):
        code = code.replace(name, values[name])
    reply = run(served, attacker, code, language, timeout=60)
    said = reply["stdout"] + reply["stderr"] + reply["result"]
    assert "BREACH" not in said, f"{attack} ({language}) got through: {reply}"
    if (attack, language) not in MAY_DIE:
        assert reply["success"], f"{attack} ({language}) failed to run: {reply}"
    still_fine(served, victim)
    # A's own session is still usable after its code's attack.
    assert run(served, attacker, "echo still here", "bash")["stdout"].strip() == "still here"


def test_a_download_goes_to_the_sessions_own_folder_whatever_path_code_names(
    served: RunningServer, attacker: str, tmp_path: Path
) -> None:
    """Chromium writes downloads as the server's user: a path named by code must not decide
    where (a profile overwritten, a file planted)."""
    target = tmp_path / "chosen-by-code"
    target.mkdir()
    target.chmod(0o777)
    code = DOWNLOAD.replace("TARGET", json.dumps(str(target)))
    reply = run(served, attacker, code, "python")
    assert reply["success"] and reply["result"] == "completed", reply
    assert list(target.iterdir()) == [], "the download went where the code said"


DOWNLOAD = """
import asyncio
cdp = await page.context.browser.new_browser_cdp_session()
await cdp.send(
    "Browser.setDownloadBehavior",
    {"behavior": "allow", "downloadPath": TARGET, "eventsEnabled": True},
)
done = asyncio.get_running_loop().create_future()
def progress(event):
    if event["state"] != "inProgress" and not done.done():
        done.set_result(event["state"])
cdp.on("Browser.downloadProgress", progress)
await page.evaluate('''() => {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob(["planted"]));
  a.download = "planted.txt";
  document.body.append(a); a.click(); a.remove();
}''')
await asyncio.wait_for(done, 15)
"""


# -- cdpUrl ---------------------------------------------------------------------------------------


async def _refused(url: str) -> bool:
    """Whether the server turns a DevTools client away: the handshake is refused, or the
    connection closed before a command is answered. An answer means it was let in; silence is
    neither, and fails the test."""
    try:
        async with websockets.connect(url, open_timeout=10) as connection:
            await connection.send(json.dumps({"id": 1, "method": "Browser.getVersion"}))
            answer = json.loads(await asyncio.wait_for(connection.recv(), 10))
    except (websockets.InvalidStatus, websockets.ConnectionClosed):
        return True
    return "result" not in answer


def test_cdp_url_needs_its_token(served: RunningServer, victim: dict[str, str]) -> None:
    url = victim["cdp_url"]
    assert url.startswith("ws://127.0.0.1:") and "token=" in url
    bare = url.split("?", 1)[0]
    assert asyncio.run(_refused(bare))
    assert asyncio.run(_refused(bare + "?token=guessed-token"))
    assert not asyncio.run(_refused(url)), "the right token must let the client in"


async def _playwright_python(url: str) -> tuple[str, int]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(url)
        try:
            pages = [page for context in browser.contexts for page in context.pages]
            await pages[0].evaluate("document.title = 'driven from python'")
            return pages[0].url, len(pages)
        finally:
            await browser.close()


def test_playwright_python_drives_the_session_through_cdp_url(
    served: RunningServer, attacker: str, site: str
) -> None:
    url = run(served, attacker, "1", "python")["cdpUrl"]
    page_url, count = asyncio.run(_playwright_python(url))
    assert page_url == f"{site}/page?set=alice" and count == 1
    assert run(served, attacker, "await page.title()", "python")["result"] == "driven from python"


@pytest.fixture(scope="module")
def node_clients() -> Path:
    return npm_packages(JS, "puppeteer-core", "the Node clients")


@pytest.mark.parametrize("client", ["playwright", "puppeteer"])
def test_node_clients_drive_the_session_through_cdp_url(
    served: RunningServer, attacker: str, site: str, node_clients: Path, client: str
) -> None:
    url = run(served, attacker, "1", "python")["cdpUrl"]
    driven = subprocess.run(
        ["node", str(node_clients / "drive.mjs"), client, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert driven.returncode == 0, driven.stderr
    seen = json.loads(driven.stdout)
    assert seen["urls"] == [f"{site}/page?set=alice"], seen
    title = run(served, attacker, "await page.title()", "python")["result"]
    assert title == f"driven by {client}"
