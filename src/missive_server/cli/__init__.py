"""The ``missive-server`` command line: ``commands`` holds the application and the commands of
the server's life (serve, worker, migrate, seed, demo, token, outbox); ``contacts`` and ``bench``
add their sub-commands; ``common`` is what they share (it imports no command)."""

from missive_server.cli.commands import app, main

__all__ = ["app", "main"]
