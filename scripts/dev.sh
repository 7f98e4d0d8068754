#!/usr/bin/env bash
# Brings the whole system up locally: installs what is missing, starts Redis, Postgres+PostGIS,
# the S3 server and anvil, migrates the database, then runs the seven services in the foreground.
# Ctrl-C stops the services and the infrastructure this run started, unless another run (pnpm test)
# still uses it (scripts/infra/session.sh).
# Settings: .data/infra.env (written by scripts/infra/up.sh), then .env if present.
set -euo pipefail
root="$(cd "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
trap 'printf "ERROR: %s, line %s: \"%s\" failed (exit %s)\n" "${BASH_SOURCE[0]:-$0}" "$LINENO" "$BASH_COMMAND" "$?" >&2' ERR

# shellcheck source=scripts/infra/session.sh
source scripts/infra/session.sh

set -a
# shellcheck source=/dev/null
source .data/infra.env
# Development defaults: anvil's well-known account 9 is the merchant; prices are in wei.
STAGING_DIR="${STAGING_DIR:-$root/.data/staging}"
MERCHANT_ADDRESS="${MERCHANT_ADDRESS:-0xa0Ee7A142d267C1f36714E4a8F75612F20a79720}"
PRICE_WEI="${PRICE_WEI:-10000000000000000}"
GATEWAY_PORT="${GATEWAY_PORT:-8080}"
# Each service's /healthz, /readyz and /metrics: INTERNAL_BASE_PORT + its place in the chain
# (api-gateway 9080 … notifier 9086, the services' own defaults).
INTERNAL_BASE_PORT="${INTERNAL_BASE_PORT:-9080}"
PUBLIC_URL="${PUBLIC_URL:-http://localhost:$GATEWAY_PORT}"
# shellcheck source=/dev/null
if [[ -f .env ]]; then source .env; fi
# Web Push: a VAPID key pair generated once per checkout (kept in .data, never committed).
if [[ -z "${VAPID_PUBLIC_KEY:-}" ]]; then
  ensure_vapid_env .data/vapid.env node --import tsx services/notifier/src/vapid-keys.ts
  # shellcheck source=/dev/null
  source .data/vapid.env
fi
set +a
mkdir -p "$STAGING_DIR"

# Before anything listens: a port another checkout's gateway answers on would make this one report
# itself up while the other one serves every request.
services=(api-gateway payment-watcher transcoder preview-extractor uploader profile-writer notifier)
internal_ports=()
for i in "${!services[@]}"; do internal_ports+=("INTERNAL_BASE_PORT+$i=$((INTERNAL_BASE_PORT + i))"); done
check_ports_free "GATEWAY_PORT=$GATEWAY_PORT" "${internal_ports[@]}"

# The settings the services run with (no private keys), for the operators' commands in another
# terminal: `pnpm payments reconcile` reads them (scripts/dev-stack-env.ts) when nothing else is set.
{
  echo "# Written by scripts/dev.sh at each start: the development stack's settings."
  for name in REDIS_URL REDIS_PREFIX DATABASE_URL S3_ENDPOINT S3_REGION S3_BUCKET S3_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY S3_FORCE_PATH_STYLE \
    RPC_URL RPC_URLS CHAIN_ID MERCHANT_ADDRESS PAYMENT_TOKEN PRICE_WEI PRICE_TOKEN_UNITS CONFIRMATIONS STAGING_DIR PUBLIC_URL; do
    if [[ -n "${!name:-}" ]]; then printf '%s=%s\n' "$name" "${!name}"; fi
  done
} >.data/dev.env.tmp
mv -f .data/dev.env.tmp .data/dev.env

pnpm --silent migrate

pids=()
stopping=0
stop_all() {
  ((stopping)) && return
  stopping=1
  echo
  echo "stopping services..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  stop_started_infra
}
trap stop_all EXIT
trap 'exit 130' INT TERM

for i in "${!services[@]}"; do
  name="${services[$i]}"
  internal=$((INTERNAL_BASE_PORT + i))
  (cd "services/$name" && PORT=$GATEWAY_PORT INTERNAL_PORT=$internal exec node --import tsx src/main.ts) > >(sed -u "s/^/[$name] /") 2>&1 &
  pids+=("$!")
done

for _ in $(seq 1 120); do
  if node -e "fetch('http://127.0.0.1:$INTERNAL_BASE_PORT/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"; then break; fi
  sleep 0.5
done

cat <<INFO

  Reelboard is up.
    gateway:      $PUBLIC_URL
    probes:       http://127.0.0.1:$INTERNAL_BASE_PORT/readyz and /metrics (gateway; the others on the next ports)
    chain:        $RPC_URL (chain id $CHAIN_ID, anvil)
    demo wallet:  0x70997970C51812dc3A010C7d01b50e0d17dc79C8
                  private key 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
                  (anvil's public test account 1; never use it on a real chain)
    merchant:     $MERCHANT_ADDRESS, price $PRICE_WEI wei

  Ctrl-C stops everything.

INFO
wait -n "${pids[@]}" || true
echo "a service exited; stopping the rest"
