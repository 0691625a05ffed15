#!/bin/sh
# Applies network faults to the container's interface with tc netem, then runs the command.
#   LATENCY_MS  added one-way delay on egress (default 0)
#   JITTER_MS   +/- variation of that delay (default 0)
#   LOSS_PCT    percentage of egress packets dropped (default 0)
# Needs the NET_ADMIN capability (docker-compose.yml adds it). Without it, or without tc,
# the service still starts and a warning says that no faults were applied.
set -eu

LATENCY_MS="${LATENCY_MS:-0}"
JITTER_MS="${JITTER_MS:-0}"
LOSS_PCT="${LOSS_PCT:-0}"
DEV="${NETEM_DEV:-eth0}"

case "$LATENCY_MS$JITTER_MS$LOSS_PCT" in
  *[!0-9.]*) echo "entrypoint: LATENCY_MS, JITTER_MS and LOSS_PCT must be numbers" >&2; exit 2 ;;
esac

if [ "$LATENCY_MS" != "0" ] || [ "$LOSS_PCT" != "0" ]; then
  netem="delay ${LATENCY_MS}ms"
  if [ "$JITTER_MS" != "0" ]; then netem="$netem ${JITTER_MS}ms distribution normal"; fi
  if [ "$LOSS_PCT" != "0" ]; then netem="$netem loss ${LOSS_PCT}%"; fi
  # shellcheck disable=SC2086 # netem holds several words on purpose
  if command -v tc >/dev/null 2>&1 && tc qdisc replace dev "$DEV" root netem $netem 2>/dev/null; then
    echo "entrypoint: tc netem on $DEV: $netem" >&2
  else
    echo "entrypoint: could not apply 'netem $netem' on $DEV (needs NET_ADMIN, tc and the kernel's sch_netem); starting without it." >&2
    echo "entrypoint: for latency without netem run the lab as processes (pnpm start) and use its fault proxy: pnpm ddia latency kv-n1 kv-n2 200 (see docker/README.md)" >&2
  fi
fi

exec "$@"
