"""Subcommands of the ``agent`` command line, one module each (see ``agent.cli``)."""
