#!/usr/bin/env bash
# `pnpm test:compose`: docker compose up --build end to end. Every container of the generated
# docker-compose.yml must become healthy, the landing page must answer on :8080 and name the kv
# leader, a kv write must go through the cluster, and `docker kill` of the kv leader's container
# must elect a new leader in a higher term; `docker compose down -v` cleans up at the end.
# Skips (exit 0, with the reason) where Docker does not run.
set -uo pipefail
cd "$(dirname "$0")/../../.." || exit 1
if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  echo "test:compose: skipped: Docker is not running here (apt-get install docker.io; on a machine without Docker Hub: sudo ../shared/tools/docker-offline-base.sh)"
  exit 0
fi
if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); elif command -v docker-compose >/dev/null 2>&1; then COMPOSE=(docker-compose); else
  echo "test:compose: skipped: neither 'docker compose' nor docker-compose is installed (apt-get install docker-compose)"
  exit 0
fi
project=ddia-lab-test
dc() { "${COMPOSE[@]}" -p "$project" -f docker-compose.yml "$@"; }
cleanup() { dc down -v --remove-orphans >/dev/null 2>&1; }
trap cleanup EXIT
fail() { echo "test:compose: FAILED: $*" >&2; dc ps >&2; dc logs --tail 20 >&2; exit 1; }
check() { echo "  ok: $*"; }

echo "test:compose: building and starting (${COMPOSE[*]})"
dc up --build -d || fail "compose up"
services=$(dc config --services | grep -v '^lab$')
deadline=$((SECONDS + 300))
for s in $services; do
  while :; do
    id=$(dc ps -q "$s")
    state=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id" 2>/dev/null)
    [ "$state" = "running healthy" ] && break
    case "$state" in exited*|dead*) fail "$s exited";; esac
    [ $SECONDS -lt $deadline ] || fail "$s not healthy within 300 s ($state)"
    sleep 2
  done
done
check "every container is healthy: $(echo "$services" | wc -l) services"
until curl -fsS http://127.0.0.1:8080/api/status >/tmp/ddia-compose-status.json 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "landing page on :8080"; sleep 2
done
check "landing page answers on http://127.0.0.1:8080"
# shellcheck disable=SC2016 # JavaScript, not shell, inside the quotes
leader_of() { node -e 'const s=JSON.parse(require("fs").readFileSync(0,"utf8"));const c=s.clusters.find(c=>c.service==="kv");process.stdout.write(c&&c.leader?`${c.leader} ${c.term}`:"")'; }
until lt=$(curl -fsS http://127.0.0.1:8080/api/status | leader_of) && [ -n "$lt" ]; do
  [ $SECONDS -lt $deadline ] || fail "no kv leader on the landing page"; sleep 2
done
read -r leader term <<<"$lt"
check "landing page: kv leader $leader in term $term"
curl -fsS -X PUT --data-binary 'hello' http://127.0.0.1:7002/kv/compose-test >/dev/null || fail "kv write through kv-n2"
[ "$(curl -fsS http://127.0.0.1:7003/kv/compose-test)" = hello ] || fail "kv read through kv-n3"
check "kv write through kv-n2, read back through kv-n3"
# Every container exports its spans to monitoring-n1 (--otlp): the write is a trace there.
until curl -fsS 'http://127.0.0.1:9090/api/v1/traces?service=kv-store&limit=50' | grep -q '"rootName":"PUT /kv/\*"'; do
  [ $SECONDS -lt $deadline ] || fail "no kv-store trace of the write on monitoring-n1"; sleep 2
done
check "the write is a kv-store trace on monitoring-n1 (spans exported with --otlp)"
docker kill "$(dc ps -q "$leader")" >/dev/null || fail "docker kill $leader"
deadline=$((SECONDS + 90))
until lt2=$(curl -fsS http://127.0.0.1:8080/api/status | leader_of) && read -r l2 t2 <<<"$lt2" && [ -n "$l2" ] && [ "$l2" != "$leader" ] && [ "$t2" -gt "$term" ]; do
  [ $SECONDS -lt $deadline ] || fail "no new leader after killing $leader"; sleep 2
done
check "docker kill $leader: new leader $l2 in term $t2"
cleanup
[ -z "$(docker volume ls -q --filter "name=${project}_")" ] || fail "volumes left after down -v"
check "docker compose down -v removed containers and volumes"
echo "test:compose: passed"
