"""The first process of a browser box whose network is its own (egress control on).

It runs inside the box, as the box's user, in the box's network namespace: it opens the box's one
listening socket on the box's loopback, hands it to the server over the control socket the box
inherited (the server's egress checkpoint accepts on it: ``agent.browser.egress``), and becomes
Chromium. Standard library only: it runs as ``python -I -S`` with nothing of the server's.

Usage: ``box_start.py CONTROL_FD PORT COMMAND...``
"""

from __future__ import annotations

import os
import socket
import sys

__all__ = ["main"]


def main() -> None:
    control_fd, port, command = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", port))
    listener.listen(1024)
    with socket.socket(fileno=control_fd) as control:
        socket.send_fds(control, [b"listening"], [listener.fileno()])
    listener.close()  # the server holds it now; Chromium only connects to it
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
