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
    """

    stdout: str
    stderr: str
    result: str
    exit_code: int
    killed: bool = False
    truncated: bool = False

    @property
    def success(self) -> bool:
        return self.exit_code == 0 and not self.killed
