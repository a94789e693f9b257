"""Domain operations: permissions, rules, state changes and outbox events. No FastAPI.

Grouped by domain, each subpackage owning one part of a shared inbox (its ``__init__`` says what).
Modules whose names start with ``_`` are private to their subpackage (an import-linter contract
in pyproject.toml holds other subpackages to the public ones). Three modules sit at this level
because every domain writes through them and they import no domain: ``outbox`` (the queue of
side effects), ``events`` (recording which webhooks a transaction fires) and ``text``. ``sessions``
is the session factory with the hook dispatcher installed, used by every entry point.

Dependencies between subpackages run one way, roughly: ``seed`` and ``web`` over ``inbound`` over
``writing`` over ``conversations`` over ``contacts`` over ``directory``; ``hooks``
renders payloads with ``conversations``; ``analytics`` and ``responses`` read the directory.
"""
