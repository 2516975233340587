"""The server the command line starts in the background, and the settings it was started with.

A background server keeps the environment it was started from: after ``agent scrape URL``
started one, ``AGENT_MODEL=... agent interact "..."`` would still run on the old settings. So the
command line records, next to its other state, the server it started (pid, URL) and a
fingerprint of the settings it gave it: every ``AGENT_*`` variable the server reads, the
providers' keys and the contents of the ``AGENT_CONFIG`` file. Values are never stored, only a
salted SHA-256 of each (the salt is random per record, the file is the user's own, mode 0600), so
the record tells *which* settings differ without holding a key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agent import procfs
from agent.models.providers import PROVIDER_SPECS

__all__ = ["CLI_ONLY_VARIABLES", "LocalServer", "server_settings"]

CLI_ONLY_VARIABLES = frozenset({"AGENT_SERVER_URL", "AGENT_API_KEY", "AGENT_STATE_DIR"})
"""``AGENT_*`` variables the command line reads and the server does not."""
_PROVIDER_KEYS = frozenset(spec.key_env for spec in PROVIDER_SPECS if spec.key_env)
_CONFIG_FILE = "AGENT_CONFIG"
_CONFIG_CONTENTS = "AGENT_CONFIG (the file's contents)"
_RECORD = "server.json"


def server_settings(env: Mapping[str, str]) -> dict[str, str]:
    """What in ``env`` decides how a server started from it behaves: name -> value (an empty
    value counts as unset, as the settings read it)."""
    found = {
        name: value
        for name, value in env.items()
        if value
        and (name in _PROVIDER_KEYS or name.startswith("AGENT_"))
        and name not in CLI_ONLY_VARIABLES
    }
    if found.get(_CONFIG_FILE):
        try:
            found[_CONFIG_CONTENTS] = Path(found[_CONFIG_FILE]).expanduser().read_text()
        except (OSError, UnicodeDecodeError) as exc:
            found[_CONFIG_CONTENTS] = f"unreadable: {type(exc).__name__}"
    return found


def _fingerprint(salt: str, env: Mapping[str, str]) -> dict[str, str]:
    """Each server setting's name -> a salted SHA-256 of its value."""
    return {
        name: hashlib.sha256(f"{salt}\0{name}\0{value}".encode()).hexdigest()
        for name, value in server_settings(env).items()
    }


@dataclass(frozen=True)
class LocalServer:
    """A server this command line started: where, which process, with which settings."""

    pid: int
    url: str
    salt: str
    settings: dict[str, str] = field(default_factory=dict)
    """Each setting's name -> a salted hash of its value."""

    @classmethod
    def started(cls, pid: int, url: str, env: Mapping[str, str]) -> LocalServer:
        salt = secrets.token_hex(16)
        return cls(pid, url, salt, _fingerprint(salt, env))

    @staticmethod
    def path(state_dir: Path) -> Path:
        return state_dir / _RECORD

    @classmethod
    def load(cls, state_dir: Path) -> LocalServer | None:
        try:
            data = json.loads(cls.path(state_dir).read_text())
            settings = {str(name): str(value) for name, value in data["settings"].items()}
            return cls(int(data["pid"]), str(data["url"]), str(data["salt"]), settings)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        path = self.path(state_dir)
        temporary = path.with_suffix(".tmp")
        record = {"pid": self.pid, "url": self.url, "salt": self.salt, "settings": self.settings}
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump(record, out)
        os.replace(temporary, path)

    @classmethod
    def forget(cls, state_dir: Path) -> None:
        cls.path(state_dir).unlink(missing_ok=True)

    def running(self) -> bool:
        """Whether its process still runs, and is still an ``agent serve`` (not a reused pid)."""
        command = procfs.cmdline(self.pid) or []
        return b"agent" in command and b"serve" in command

    def differences(self, env: Mapping[str, str]) -> list[str]:
        """The settings whose value in ``env`` is not the one the server was started with."""
        now = _fingerprint(self.salt, env)
        then = self.settings
        return sorted(name for name in now.keys() | then.keys() if now.get(name) != then.get(name))

    def stop(self, timeout_s: float = 60.0) -> bool:
        """SIGTERM it (it closes its sessions and browsers) and wait until it has exited."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while self.running():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True
