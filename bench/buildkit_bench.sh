#!/usr/bin/env bash
# Benchmark: a FastAPI-shaped context (a dependencies layer, then the app code) built the three ways a
# CI team meets it - cold, again after a one-file change, and cold on a fresh runner with a registry
# cache - by `ecs-ship build` (BuildKit), `ecs-ship build --builder classic`, `docker build` (classic)
# and `DOCKER_BUILDKIT=1 docker build`, on the same engine in the same run. Prints seconds and peak
# memory (max RSS) of each client side by side.
#
#   bench/buildkit_bench.sh [DEPS_MB] [LOOPS]   default 20 MB and 2,000,000 shell loop turns: the size
#                                               and the CPU cost of the dependencies layer
#
# Needs the stack (ci/stack up) and a release build (cargo build --release). "Cold" prunes the
# engine's build cache and removes the images first; the registry cache is the stack's registry.
set -euo pipefail
cd "$(dirname "$0")/.."
DEPS_MB=${1:-20}
LOOPS=${2:-2000000}
BIN=${ECS_SHIP_BIN:-target/release/ecs-ship}
WORK=${ECS_SHIP_BENCH_DIR:-/var/tmp/ecs-ship-bench}/fastapi
eval "$(ci/stack env)"
[ -x "$BIN" ] || { echo "build $BIN first: cargo build --release" >&2; exit 2; }
REG=${ECS_SHIP_TEST_REGISTRY:-127.0.0.1:15000}
RUN_ID=$(date +%s)
# A docker CLI with BuildKit built in: Debian's 20.10 has it; newer CLIs need the buildx plugin.
DOCKER=${ECS_SHIP_BENCH_DOCKER:-/usr/bin/docker}
[ -x "$DOCKER" ] || DOCKER=docker

rm -rf "$WORK" && mkdir -p "$WORK/app"
printf 'fastapi==0.115.0\nuvicorn==0.30.0\n' >"$WORK/requirements.txt"
for i in $(seq 1 40); do printf 'def handler_%s():\n    return %s\n' "$i" "$i" >"$WORK/app/mod$i.py"; done
# The dependencies step stands in for `pip install -r requirements.txt`: CPU and a layer of DEPS_MB.
cat >"$WORK/Dockerfile" <<EOF
FROM busybox:stable
WORKDIR /srv
COPY requirements.txt .
RUN i=0; while [ \$i -lt $LOOPS ]; do i=\$((i+1)); done; dd if=/dev/urandom of=/srv/site-packages bs=1M count=$DEPS_MB 2>/dev/null
COPY app/ app/
EOF

timed() { /usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -1; }
cold() {
  "$DOCKER" builder prune -af >/dev/null 2>&1 || true
  "$DOCKER" image ls --format '{{.Repository}}:{{.Tag}}' | grep "^$REG/bench-" | xargs -r "$DOCKER" rmi -f >/dev/null 2>&1 || true
}
touch_app() { printf 'def changed():\n    return %s\n' "$RANDOM" >"$WORK/app/mod1.py"; }

ecs() { timed "$BIN" -q build --context "$WORK" --repository "$REG/bench-ecs" --no-git-tag --tag "$1" --state "$WORK/state.json" "${@:2}"; }
dk() { # dk 0|1 TAG [FLAGS]: docker build with the classic builder (0) or the CLI's BuildKit (1)
  # --network host: the stack's engine has no bridge (ecs-ship picks host by itself there). The
  # label: ecs-ship labels every image (org.opencontainers.image.created), which costs the classic
  # builder a step, so docker build gets one too.
  timed env DOCKER_BUILDKIT="$1" "$DOCKER" build -q --network host \
    --label "org.opencontainers.image.created=$(date -u +%FT%TZ)" -t "$REG/bench-docker:$2" "${@:3}" "$WORK"
}

declare -A T
run_case() { # run_case NAME COMMAND...: stores "seconds MB" in T[NAME]
  local name=$1; shift
  read -r s m < <("$@")
  T[$name]="$s $((m / 1024))"
}

# Cold, then a one-file change, for each client.
cold; run_case "ecs-bk cold" ecs a
touch_app; run_case "ecs-bk change" ecs b
cold; run_case "ecs-classic cold" ecs c --builder classic
touch_app; run_case "ecs-classic change" ecs d --builder classic
cold; run_case "docker cold" dk 0 e
touch_app; run_case "docker change" dk 0 f
cold; run_case "docker-bk cold" dk 1 g
touch_app; run_case "docker-bk change" dk 1 h

# A fresh runner with a registry cache: an earlier build pushed its inline cache; the local cache is gone.
cache="$REG/bench-ecs:buildcache-$RUN_ID"
cold; "$BIN" -q build --context "$WORK" --repository "$REG/bench-ecs" --no-git-tag --tag seed --cache "$cache" --state "$WORK/state.json" >/dev/null
"$BIN" -q push --state "$WORK/state.json" >/dev/null
cold; touch_app; run_case "ecs-bk registry" ecs i --cache "$cache"
dcache="$REG/bench-docker:buildcache-$RUN_ID"
DOCKER_BUILDKIT=1 "$DOCKER" build -q --network host --build-arg BUILDKIT_INLINE_CACHE=1 -t "$dcache" "$WORK" >/dev/null
"$DOCKER" push -q "$dcache" >/dev/null
# As `--cache` does: import the cache and keep it inline in the new image for the next runner.
cold; touch_app; run_case "docker-bk registry" dk 1 j --cache-from "$dcache" --build-arg BUILDKIT_INLINE_CACHE=1

printf 'FastAPI-shaped context: a %s MB dependencies layer (%s loop turns of work), 40 app files; engine %s\n' "$DEPS_MB" "$LOOPS" "$DOCKER_HOST"
printf '%-40s %14s %16s %22s\n' "client" "cold (s / MB)" "1 file (s / MB)" "cold+registry (s / MB)"
row() { printf '%-40s %14s %16s %22s\n' "$1" "${T[$2 cold]/ / \/ }" "${T[$2 change]/ / \/ }" "${3:--}"; }
row "ecs-ship build (BuildKit)" ecs-bk "${T[ecs-bk registry]/ / \/ }"
row "ecs-ship build --builder classic" ecs-classic "n/a (no cache import)"
row "docker build (classic builder)" docker "n/a (no cache import)"
row "DOCKER_BUILDKIT=1 docker build" docker-bk "${T[docker-bk registry]/ / \/ }"
