"""What every bubblewrap box on this machine shares: the users boxes run as, and the read-only
view of the system they see.

Two kinds of box use it: the browser box (``agent.browser.box``: one Chromium per session) and
the code box (``agent.executors.sandbox``: a session's python, node and bash). Both live here,
in the browser core, because the code box sits in a higher layer and imports from below.

Box users: when the server runs as root, every box runs as a user of its own, ``61000`` to
``61999``, never held by two boxes at once: not in this process (a lock and a set), nor in
another server on the same machine (a lock file per user, held with ``flock`` while the box
lives, so replicas and test servers side by side never share one either).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from agent.errors import ConfigError

__all__ = [
    "UID_BASE",
    "UID_RANGE",
    "allocate_uid",
    "box_user_args",
    "parent_dirs",
    "release_uid",
    "require_box_tools",
    "runtime_prefixes",
    "system_mounts",
]

UID_BASE = 61000
UID_RANGE = 1000
_LOCK_DIR = Path("/run/browser-agent/box-users")

_lock = threading.Lock()
_held: dict[int, int | None] = {}  # uid -> the fd of its lock file (None: no lock folder)


def _lock_dir() -> Path | None:
    """The folder of the per-user lock files, made on first use (root's /run, else /tmp)."""
    for folder in (_LOCK_DIR, Path(tempfile.gettempdir()) / "browser-agent-box-users"):
        with contextlib.suppress(OSError):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if folder.stat().st_uid == os.geteuid():
                return folder
    return None


def _try_lock(folder: Path | None, uid: int) -> tuple[bool, int | None]:
    if folder is None:
        return True, None
    fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False, None
    return True, fd


def allocate_uid() -> int | None:
    """A box user no other box (of this server or another on the machine) holds now; None when
    all of them are in use (each caller says so in its own error)."""
    folder = _lock_dir()
    with _lock:
        start = os.getpid() * 7  # servers side by side start their search in different places
        for offset in range(UID_RANGE):
            uid = UID_BASE + (start + offset) % UID_RANGE
            if uid in _held:
                continue
            free, fd = _try_lock(folder, uid)
            if free:
                _held[uid] = fd
                return uid
    return None


def release_uid(uid: int | None) -> None:
    """Give a box user back (once every process of its box has ended)."""
    if uid is None:
        return
    with _lock:
        fd = _held.pop(uid, None)
    if fd is not None:
        os.close(fd)  # closing the file releases its flock


def require_box_tools(*, no_bwrap: str, no_setpriv: str) -> str:
    """bwrap's path; else raise ``ConfigError(no_bwrap)``, or ``ConfigError(no_setpriv)`` as root
    without setpriv (it makes a box's processes the box's user). Each kind of box says in its own
    words what runs there and which setting turns its box off."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise ConfigError(no_bwrap)
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        raise ConfigError(no_setpriv)
    return bwrap


def box_user_args(uid: int | None) -> list[str]:
    """The end of a bwrap command line that makes the box's processes who they should be.

    As root (``uid`` given): no new user namespace (setresuid fails in a fresh one), every
    capability dropped but the three setpriv needs, then setpriv switches to ``uid`` with no
    groups and no capabilities left, even in the bounding set. Otherwise a user namespace of the
    box's own (the box then runs as the server's user, mapped into it).
    """
    if uid is None:
        return ["--unshare-user", "--"]
    return [
        "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
        "--cap-add", "CAP_SETPCAP", "--",
        "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--",
    ]  # fmt: skip


def system_mounts(etc_files: Iterable[str]) -> list[str]:
    """bwrap arguments for a read-only minimal system: /usr, the /bin, /lib, ... links or folders
    beside it, and only the named entries of /etc."""
    argv = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    argv += ["--perms", "0755", "--dir", "/etc"]
    for name in etc_files:
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return argv


def parent_dirs(path: str | Path) -> list[str]:
    """``--dir`` arguments (mode 0755) for the folders above a bind mount, so that the box can
    reach it while the host's folders around it (a home, /tmp) stay hidden."""
    argv: list[str] = []
    current = ""
    for part in Path(path).parts[1:-1]:
        current += "/" + part
        argv += ["--perms", "0755", "--dir", current]
    return argv


def runtime_prefixes(*, node: bool = True) -> list[str]:
    """Installations outside /usr a box needs: Python's (a pyenv or venv), and Node.js's."""
    prefixes = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    node_binary = shutil.which("node") if node else None
    if node_binary:
        prefixes.add(os.path.dirname(os.path.dirname(os.path.realpath(node_binary))))
    return sorted(p for p in prefixes if not p.startswith("/usr") and p != "/")
