"""The ``agent browser`` command as bash code runs it: a command line in, the session's answer out.

Every ``agent browser`` command in a script is a new process, so its cost is a Python start-up
plus whatever the client imports. The declared client (``agent.executors.browser_cli``) parses
with argparse and speaks JSON, which with ``socket``, ``dataclasses`` and ``typing`` costs about
40 ms of imports on top of the interpreter's 10 ms. This one imports only ``_socket`` (``sys``
and ``posix`` are loaded before any script runs): it sends the raw command line to the session's
``agent.executors.browser_rpc`` server, which parses it with the very parser
``browser_cli.build_parser`` builds and answers with what that client would have printed, where,
and its exit status. One parser, one set of messages, two ways to reach them.

What this client does not handle it hands, untouched, to the declared client (``exec``):
options before the command (``--socket``, ``--token``, ``-h``), help (the server says so),
no session in the environment, a socket that does not accept; so those behave exactly as
before. Once the command has been sent it is never sent again.

The wire (one connection per command)::

    client: b"argv\\n" TOKEN \\0 CWD \\0 ARGC \\0 ARG \\0 ... ARG \\0
    server: b"stdin\\n"              (``eval -`` only)
    client: b"+" STDIN, then EOF     (a client that closes instead withdraws the command)
    server: b"help\\n"               (the declared client prints it: exec)
    server: b"EXIT FD\\n" TEXT       (write TEXT to FD, exit with EXIT)

The ``agent`` shim of a box speaks it too, with bash's ``/dev/tcp`` (see
``agent.executors.bash``); what it does not do (help, stdin) it hands to this client.

Run by path (``python -I -S browser_client.py ARGS``) by the bash executor's ``agent`` shim.
"""

from __future__ import annotations

import _socket
import posix
import sys

TYPE_CHECKING = False  # not typing's: importing typing costs as much as the rest of the run
if TYPE_CHECKING:
    from typing import NoReturn

__all__ = ["HELP", "MAGIC", "STDIN", "main"]

MAGIC = b"argv\n"
"""How a command line starts, where a JSON request starts with ``{``."""
STDIN = b"stdin"
HELP = b"help"
_SOCKET_ENV = b"AGENT_SESSION_SOCKET"  # as browser_cli.SOCKET_ENV and TOKEN_ENV
_TOKEN_ENV = b"AGENT_SESSION_TOKEN"
_EXIT_NO_SESSION = 3
_TIMEOUT_S = 600.0


def _declared_client(argv: list[str]) -> NoReturn:
    """Replace this process by the declared client, with the same arguments."""
    folder = __file__.rpartition("/")[0] or "."
    python = sys.executable
    posix.execv(python, [python, "-I", "-S", f"{folder}/browser_cli.py", *argv])


def _request(token: bytes, argv: list[str]) -> bytes:
    encoding = sys.getfilesystemencoding()  # how argv was decoded, so it encodes back the same
    fields = [token, posix.getcwdb(), str(len(argv)).encode()]
    fields += [arg.encode(encoding, "surrogateescape") for arg in argv]
    return MAGIC + b"\0".join(fields) + b"\0"


def _failed(argv: list[str], reason: str) -> tuple[int, int, bytes]:
    # Worded as the declared client words it, though it names the command as typed (an alias
    # stays an alias): the command was sent, so it cannot be handed over any more.
    said = " ".join(reason.split())
    return _EXIT_NO_SESSION, 2, f"agent browser {argv[0]}: {said}\n".encode()


def _exchange(client: _socket.socket, argv: list[str]) -> tuple[int, int, bytes]:
    """Read the server's answer (sending stdin first if it asks); ``(exit, fd, text)``."""
    received = b""
    asked = False
    while chunk := client.recv(65536):
        received += chunk
        if not asked and received.startswith(STDIN + b"\n"):
            asked = True
            client.sendall(b"+" + sys.stdin.buffer.read())
            client.shutdown(_socket.SHUT_WR)
            received = received[len(STDIN) + 1 :]
    head, newline, text = received.partition(b"\n")
    if head == HELP:
        _declared_client(argv)
    status, _, fd = head.partition(b" ")
    if not newline or not status.isdigit() or fd not in (b"1", b"2"):
        return _failed(argv, "the session sent no answer (it may be closing).")
    return int(status), int(fd), text


def main() -> int:
    argv = sys.argv[1:]
    environ = posix.environ
    socket_path, token = environ.get(_SOCKET_ENV), environ.get(_TOKEN_ENV)
    if not argv or argv[0].startswith("-") or not socket_path or not token:
        _declared_client(argv)
    try:
        request = _request(token, argv)
        client = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        client.settimeout(_TIMEOUT_S)
        client.connect(socket_path)
    except OSError:  # no working folder, a socket that does not answer: it says why, as ever
        _declared_client(argv)
    try:
        client.sendall(request)
        status, fd, text = _exchange(client, argv)
    except OSError as exc:
        where = socket_path.decode(errors="replace")
        reason = f"cannot reach the session at {where} ({exc}); it may have been closed."
        status, fd, text = _failed(argv, reason)
    finally:
        client.close()
    stream = sys.stdout if fd == 1 else sys.stderr
    stream.buffer.write(text)
    stream.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
