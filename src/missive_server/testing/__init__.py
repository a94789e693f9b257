"""missive-server as a test dependency: a real server, in-process, per test.

``running(seed=...)`` is a context manager for any runner; the pytest plugin
(``missive_server.testing.plugin``, registered through the ``pytest11`` entry point) provides the
``missive_server`` and ``missive_server_session`` fixtures on top of it. See README, "Testing
your integration".
"""

from missive_server.testing._databases import Seed, Seeded
from missive_server.testing._handle import Clock, EmulatorError, MissiveServer
from missive_server.testing._pool import ServerPool, running

__all__ = [
    "Clock",
    "EmulatorError",
    "MissiveServer",
    "Seed",
    "Seeded",
    "ServerPool",
    "running",
]
