"""What one run of user code produced, and the limits every executor applies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "KILLED_EXIT_CODE",
    "LANGUAGES",
    "MAX_OUTPUT_BYTES",
    "MAX_TIMEOUT_S",
    "MIN_TIMEOUT_S",
    "CodeResult",
    "Language",
    "last_meaningful_line",
]

Language = Literal["python", "node", "bash"]
LANGUAGES: tuple[Language, ...] = ("python", "node", "bash")

# Each of stdout, stderr and result is cut at this many bytes (and ``truncated`` set).
MAX_OUTPUT_BYTES = 1024 * 1024
MIN_TIMEOUT_S = 1.0
MAX_TIMEOUT_S = 300.0
# What a shell reports for a process ended by SIGKILL; used for every language alike.
KILLED_EXIT_CODE = 137


@dataclass(frozen=True)
class CodeResult:
    """The outcome of one ``run_code`` call.

    Attributes:
        stdout: What the code printed (``print``, ``console.log``, ``echo``), up to 1 MiB.
        stderr: Errors and tracebacks, up to 1 MiB.
        result: The value of the last expression (python, node) as text: a string as it is,
            ``None``/``null``/``undefined`` as ``""``, anything else as JSON when it can be, else
            its ``repr``/``util.inspect``. Always ``""`` for bash.
        exit_code: 0 on success; 1 for an exception or syntax error; the code's own status for
            ``sys.exit``/``process.exitCode``/bash; 137 when killed at the timeout.
        killed: The code ran past its timeout and its process was killed.
        truncated: stdout, stderr or result went past the 1 MiB cap and was cut.
        error: When python or node code raised: the error's type and message in one line
            (``TypeError: Cannot read properties of null``), as the worker caught it; else None.
    """

    stdout: str
    stderr: str
    result: str
    exit_code: int
    killed: bool = False
    truncated: bool = False
    error: str | None = None

    @property
    def success(self) -> bool:
        return self.exit_code == 0 and not self.killed

    @property
    def summary(self) -> str:
        """What the code said when it failed, in one line (without the exit code): the error's
        type and message for python and node; for bash, or code that only set a non-zero
        status, the last meaningful line of stderr."""
        if self.killed:
            return "killed at its timeout"
        return self.error or last_meaningful_line(self.stderr) or "nothing on stderr"


_SUMMARY_CHARS = 300


def last_meaningful_line(stderr: str) -> str:
    """The last line of ``stderr`` that says something: not blank, and not a stack frame or a
    call log (indented: ``    at code.js:1:93``, ``  - waiting for ...``) unless nothing else
    is there. A note of ours in brackets (``[the code ended its worker]``) loses them."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    flush = [line for line in lines if not line[0].isspace()]
    for line in reversed(flush or lines):
        text = line.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        return text[:_SUMMARY_CHARS]
    return ""
