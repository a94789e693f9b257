"""Benchmark the API against its baseline on one database (bench/README.md has the results).

    .venv/bin/python bench/run.py --database-url sqlite:////tmp/bench/10k.db --conversations 10000

1. When the database has no conversations, fills it with ``missive-server bench-data
   --conversations N`` (one owner, N conversations of 2 inbound emails, N/10 contacts).
2. Removes what earlier runs wrote (``services.bench_data.forget_writes``), then samples 2,000
   conversation and message ids and a few contacts to search for.
3. Serves ``bench/baseline.py`` (bare ASGI, one INSERT or one primary-key SELECT per request)
   and runs wrk against its insert and read.
4. Serves ``missive-server serve`` (one process, ``MISSIVE_RATE_LIMIT=off``,
   ``MISSIVE_RUN_WORKER=false`` so sent drafts stay queued in the outbox,
   ``MISSIVE_ACCESS_LOG=false`` as the baseline logs nothing) and runs every endpoint script,
   reads first: writes change what the inbox's first page holds.
5. Prints a Markdown table (requests/s, p50, p99, the ratio to the baseline's insert or read,
   non-2xx responses, load average, the server's RSS after the endpoint) and writes it as JSON
   next to the table (``--json``).

wrk runs on the same machine: ``-t2 -c16 -d{--duration}s --latency`` (``apt-get install wrk``),
after 2 s of the same load as a warm-up that is not counted.

**Memory.** ``serve`` with one worker runs uvicorn in its own process (no child; the delivery
worker would be a thread, and ``MISSIVE_RUN_WORKER=false`` starts none), so the pid we spawn
is the process that serves HTTP. Read from ``/proc/PID/status``: ``VmRSS`` once it answers
(``start``) and after each endpoint's measured run (``after``), and ``VmHWM``, the peak RSS of
the process's life, once it answers (``peak_at_start``: startup alone) and at the end
(``peak``). JSON: ``{"results": [...], "server_rss_mb": {"peak": MB, "peak_at_start": MB,
"start": MB, "after": {endpoint: MB}}}`` (MB = 10^6 bytes).

**Flame graphs** (``--flame DIR``, e.g. ``bench/results/flame/sqlite-10k``): after each
endpoint's measured run, an *extra* pass of the same wrk load runs under ``py-spy record --pid
<serve> --rate 200 --threads --format flamegraph`` for ``--flame-seconds`` (default
``--duration``) and writes ``DIR/<endpoint>.svg``. The measured run itself is never sampled, so
the figures of record are unchanged by it; the extra pass makes the run about twice as long.
py-spy samples every thread that is not idle (the event loop and the ``db/threads.py``
database threads), one root per thread (``--threads``); ``serve`` has no subprocess to follow.
It needs ptrace rights on the server (root, or ``kernel.yama.ptrace_scope=0``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import text

from missive_server.db import migrate
from missive_server.db.engine import make_engine
from missive_server.services.seed import bench_data

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "missive_pat-bench-data"
WARM_UP_SECONDS = 2


@dataclass
class Script:
    name: str
    label: str
    lua: str
    baseline: str | None = None  # the baseline script this one is compared with
    env: dict[str, str] | None = None


@dataclass
class Result:
    name: str
    label: str
    rps: float
    p50: str
    p99: str
    ratio: float | None
    non_2xx: int
    load: str


def sample(url: str, directory: Path) -> dict[str, str]:
    """Id files for the Lua scripts, and the contact searches (selective and broad)."""
    engine = make_engine(url)
    with engine.connect() as c:
        for table in ("conversations", "messages"):
            ids = c.scalars(text(f"SELECT id FROM {table} ORDER BY random() LIMIT 2000"))
            (directory / table).write_text("\n".join(ids))
        book = c.scalar(text("SELECT id FROM contact_books WHERE name = 'Customers'"))
        people = c.execute(
            text(
                "SELECT c.first_name, e.value, p.value FROM contacts c "
                "JOIN contact_infos e ON e.contact_id = c.id AND e.kind = 'email' "
                "JOIN contact_infos p ON p.contact_id = c.id AND p.kind = 'phone_number' "
                "WHERE c.contact_book_id = :book ORDER BY c.id LIMIT 3"
            ),
            {"book": book},
        ).all()
    engine.dispose()
    selective = [email for _, email, _ in people] + [
        re.sub(r"\D", "", phone)[1:] for _, _, phone in people
    ]
    return {
        "book": str(book),
        "selective": ",".join(selective),
        "broad": ",".join(first.lower() for first, _, _ in people),
    }


def wait_up(port: int, path: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(150):
        if process.poll() is not None:
            raise SystemExit(f"the server on port {port} exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1)
            return
        except urllib.error.HTTPError:
            return  # 401 or 404: it answers
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"nothing answered on port {port}")


def serving(argv: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        argv, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=sys.stderr
    )
    wait_up(port, "/", process)
    return process


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """``VmRSS`` (now) or ``VmHWM`` (the peak so far) of a process, in MB (10^6 bytes)."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    if match is None:
        raise SystemExit(f"no {field} in /proc/{pid}/status")
    return round(int(match.group(1)) * 1024 / 1e6, 1)


def children(pid: int) -> list[int]:
    """The pids of a process's children (every thread's), from ``/proc``."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def wrk_run(script: Script, port: int, seconds: int, env: dict[str, str]) -> str:
    return subprocess.run(
        [
            *("wrk", "-t2", "-c16", f"-d{seconds}s", "--latency"),
            *("-s", f"bench/{script.lua}.lua", f"http://127.0.0.1:{port}"),
        ],
        env={**os.environ, "TOKEN": TOKEN, **env, **(script.env or {})},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def flame(
    script: Script, port: int, seconds: int, env: dict[str, str], pid: int, out: Path
) -> None:
    """An extra pass of the script's load with py-spy sampling the server for ``seconds``.
    wrk runs a second longer on each side, so every sample falls under load."""
    spy = subprocess.Popen(
        [
            *(str(ROOT / ".venv/bin/py-spy"), "record", "--pid", str(pid)),
            *("--format", "flamegraph", "--output", str(out)),
            *("--duration", str(seconds), "--rate", "200", "--threads"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    load = subprocess.Popen(
        [
            *("wrk", "-t2", "-c16", f"-d{seconds + 2}s"),
            *("-s", f"bench/{script.lua}.lua", f"http://127.0.0.1:{port}"),
        ],
        env={**os.environ, "TOKEN": TOKEN, **env, **(script.env or {})},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    _, errors = spy.communicate()
    load.wait()
    if spy.returncode != 0 or not out.exists():
        raise SystemExit(f"py-spy failed for {script.name} ({spy.returncode}): {errors.strip()}")
    print(f"flame graph: {out}", file=sys.stderr)


def wrk(script: Script, port: int, duration: int, env: dict[str, str]) -> Result:
    # Warm-up, not counted: the first requests of an endpoint compile and prepare its
    # statements and fill caches, which would otherwise land in the p99.
    wrk_run(script, port, WARM_UP_SECONDS, env)
    out = wrk_run(script, port, duration, env)

    def find(pattern: str, default: str = "?") -> str:
        match = re.search(pattern, out, re.MULTILINE)
        return match.group(1) if match else default

    load = Path("/proc/loadavg").read_text().split()[0]
    return Result(
        name=script.name,
        label=script.label,
        rps=float(find(r"Requests/sec:\s+([\d.]+)", "0")),
        p50=find(r"^\s+50%\s+(\S+)"),
        p99=find(r"^\s+99%\s+(\S+)"),
        ratio=None,
        non_2xx=int(find(r"Non-2xx or 3xx responses: (\d+)", "0")),
        load=load,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per script")
    parser.add_argument("--port", type=int, default=8112)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--only", help="comma-separated script names to run")
    parser.add_argument(
        "--flame",
        type=Path,
        metavar="DIR",
        help="also record a py-spy flame graph per endpoint, DIR/<endpoint>.svg, in an extra pass",
    )
    parser.add_argument(
        "--flame-seconds", type=int, help="seconds sampled per flame graph (default --duration)"
    )
    args = parser.parse_args()
    if args.flame:
        args.flame.mkdir(parents=True, exist_ok=True)

    engine = make_engine(args.database_url)
    migrate.upgrade(engine)
    with engine.connect() as c:
        have = c.scalar(text("SELECT count(*) FROM conversations"))
    engine.dispose()
    if not have:
        subprocess.run(
            [
                *(str(ROOT / ".venv/bin/missive-server"), "bench-data"),
                *("--conversations", str(args.conversations)),
            ],
            env={**os.environ, "MISSIVE_DATABASE_URL": args.database_url},
            check=True,
        )
    engine = make_engine(args.database_url)
    removed = bench_data.forget_writes(engine)  # what earlier runs wrote
    engine.dispose()
    print(f"removed {removed:,} rows written by earlier runs", file=sys.stderr)
    directory = Path(tempfile.mkdtemp(prefix="missive-bench-"))
    found = sample(args.database_url, directory)
    conversations, messages = str(directory / "conversations"), str(directory / "messages")
    contacts = {"BOOK": found["book"]}
    baseline = [
        Script("baseline_insert", "baseline: one INSERT", "baseline_insert"),
        Script("baseline_read", "baseline: one primary-key SELECT", "baseline_read"),
    ]
    api = [
        Script("inbox_page", "`GET /v1/conversations?inbox=true` (25 per page)", "inbox_page"),
        Script("inbox_list", "`GET /v1/conversations?inbox=true&limit=50`", "inbox_list"),
        Script("conversation_get", "`GET /v1/conversations/:id`", "conversation_get"),
        Script("message_get", "`GET /v1/messages/:id`", "message_get"),
        Script(
            "contacts_search",
            "`GET /v1/contacts?search=` (an email or phone number)",
            "contacts_search",
            env={**contacts, "SEARCHES": found["selective"]},
        ),
        Script(
            "contacts_search_name",
            "`GET /v1/contacts?search=` (a first name, ~1 % of contacts)",
            "contacts_search",
            env={**contacts, "SEARCHES": found["broad"]},
        ),
        # Writes last: a post moves its conversation to the top of the inbox at the current
        # second, and hundreds sharing one second would make the list's first page that much
        # longer (ties are appended, spec 1.7), so the list is measured on the dataset as made.
        Script("post_create", "`POST /v1/posts`", "post_create", "baseline_insert"),
        Script(
            "post_create_keyed",
            "`POST /v1/posts` with `Idempotency-Key`",
            "post_create_keyed",
            "baseline_insert",
        ),
        Script("draft_send", "`POST /v1/drafts` `send: true`", "draft_send", "baseline_insert"),
    ]
    for script in api:
        if (
            script.name in ("inbox_page", "inbox_list", "conversation_get", "message_get")
            or script.lua == "contacts_search"
        ):
            script.baseline = script.baseline or "baseline_read"
    only = set(args.only.split(",")) if args.only else None
    ids = {"IDS": conversations}
    results: dict[str, Result] = {}
    python = str(ROOT / ".venv/bin/python")
    uvicorn = [python, "-m", "uvicorn", "--factory", "--loop", "uvloop", "--http", "httptools"]
    server = serving(
        [*uvicorn, "--port", str(args.port), "--no-access-log", "bench.baseline:build_app"],
        {"BASELINE_DATABASE_URL": args.database_url, "PYTHONPATH": str(ROOT)},
        args.port,
    )
    try:
        for script in baseline:
            results[script.name] = wrk(script, args.port, args.duration, ids)
    finally:
        server.terminate()
        server.wait(10)
    server = serving(
        [str(ROOT / ".venv/bin/missive-server"), "serve", "--port", str(args.port)],
        {
            "MISSIVE_DATABASE_URL": args.database_url,
            "MISSIVE_RATE_LIMIT": "off",
            "MISSIVE_RUN_WORKER": "false",
            # The baseline logs nothing either; the access log costs ~3 % (py-spy).
            "MISSIVE_ACCESS_LOG": "false",
        },
        args.port,
    )
    if children(server.pid):  # e.g. --workers N: then the pid would not be the one serving
        raise SystemExit(f"serve (pid {server.pid}) has child processes: {children(server.pid)}")
    after: dict[str, float] = {}
    rss = {
        "peak": 0.0,
        "peak_at_start": rss_mb(server.pid, "VmHWM"),
        "start": rss_mb(server.pid),
        "after": after,
    }
    try:
        for script in api:
            if only and script.name not in only:
                continue
            env = {"IDS": messages if script.name == "message_get" else conversations}
            result = wrk(script, args.port, args.duration, env)
            after[script.name] = rss_mb(server.pid)
            if script.baseline:
                result.ratio = round(result.rps / results[script.baseline].rps, 4)
            results[script.name] = result
            if args.flame:
                seconds = args.flame_seconds or args.duration
                out = args.flame / f"{script.name}.svg"
                flame(script, args.port, seconds, env, server.pid, out)
        rss["peak"] = rss_mb(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.wait(10)

    print(f"\n{args.database_url}, wrk -t2 -c16 -d{args.duration}s\n")
    print("| script | req/s | p50 | p99 | ratio to baseline | non-2xx | load | serve RSS after |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results.values():
        ratio = f"{r.ratio:.1%}" if r.ratio is not None else ""
        mem = f"{after[r.name]:,.0f} MB" if r.name in after else ""
        print(
            f"| {r.label} | {r.rps:,.0f} | {r.p50} | {r.p99} | {ratio} | {r.non_2xx} | {r.load} "
            f"| {mem} |"
        )
    print(
        f"\nserve RSS: {rss['start']:,.0f} MB once up (peak so far {rss['peak_at_start']:,.0f} MB),"
        f" peak (VmHWM) {rss['peak']:,.0f} MB at the end"
        + (" (after the flame passes too)" if args.flame else "")
    )
    if args.json:
        document = {"results": [asdict(r) for r in results.values()], "server_rss_mb": rss}
        args.json.write_text(json.dumps(document, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
