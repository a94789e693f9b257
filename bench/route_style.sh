#!/usr/bin/env bash
# Usage: bench/route_style.sh  -> wrk numbers for the async route and its thread-pool twin.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
export MISSIVE_DATABASE_URL="sqlite:///$dir/bench.db"
id=$(.venv/bin/python bench/route_style.py "$MISSIVE_DATABASE_URL")
PYTHONPATH=bench .venv/bin/uvicorn route_style:build_app --factory --port 8097 --log-level warning \
  --no-access-log --loop uvloop --http httptools &
pid=$!
trap 'kill $pid; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do curl -s -o /dev/null http://127.0.0.1:8097/v1/organizations && break; sleep 0.2; done
auth="Authorization: Bearer missive_pat-bench-route-style"
for path in "/v1/conversations/$id" "/bench/sync/conversations/$id"; do
  curl -sf -H "$auth" "http://127.0.0.1:8097$path" >/dev/null
  echo "== $path"
  wrk -t1 -c16 -d${DURATION:-10}s --latency -H "$auth" "http://127.0.0.1:8097$path" | grep -E "Requests/sec|50%|99%"
done
