#!/usr/bin/env bash
# Usage: bench/run.sh DATABASE_URL [CONVERSATIONS]
# Generates the dataset when the database has no conversations, starts one API process
# (MISSIVE_RATE_LIMIT=off, worker off so sent mail stays in the outbox), runs each wrk script
# (-t2 -c16 -d${DURATION:-10}s) and prints requests/s, p50, p99 with `uptime` next to them.
# Not yet: the bare ASGI baseline and the ratio column (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
url=$1; count=${2:-10000}; port=${PORT:-8112}; dir=$(mktemp -d)
export MISSIVE_DATABASE_URL=$url MISSIVE_RATE_LIMIT=off MISSIVE_RUN_WORKER=false
have=$(.venv/bin/python -c "
import sys; from sqlalchemy import text; from missive_server.db.engine import make_engine
from missive_server.db import migrate
e = make_engine(sys.argv[1]); migrate.upgrade(e)
print(e.connect().execute(text('select count(*) from conversations')).scalar())" "$url")
[ "$have" = 0 ] && .venv/bin/python bench/bench_data.py --database-url "$url" --conversations "$count"
.venv/bin/python -c "
import sys; from sqlalchemy import text; from missive_server.db.engine import make_engine
c = make_engine(sys.argv[1]).connect()
open(sys.argv[2] + '/conversations', 'w').write('\n'.join(r[0] for r in c.execute(text('select id from conversations order by random() limit 2000'))))
open(sys.argv[2] + '/messages', 'w').write('\n'.join(r[0] for r in c.execute(text('select id from messages order by random() limit 2000'))))
" "$url" "$dir"
.venv/bin/missive-server serve --port "$port" >"$dir/serve.log" 2>&1 &
pid=$!
trap 'kill $pid; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$port/v1/organizations" && break; sleep 0.2; done
printf "%-22s %10s %10s %10s  %s\n" script req/s p50 p99 load
for s in post_create draft_send inbox_list conversation_get message_get; do
  ids=$dir/conversations; [ $s = message_get ] && ids=$dir/messages
  out=$(IDS=$ids wrk -t2 -c16 -d${DURATION:-10}s --latency -s bench/$s.lua "http://127.0.0.1:$port")
  printf "%-22s %10s %10s %10s  %s\n" $s "$(awk '/Requests\/sec/{print $2}' <<<"$out")" \
    "$(awk '$1=="50%"{print $2}' <<<"$out")" "$(awk '$1=="99%"{print $2}' <<<"$out")" "$(uptime | sed 's/.*average: //')"
  grep -q "Non-2xx" <<<"$out" && grep "Non-2xx" <<<"$out"
done
