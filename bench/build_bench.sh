#!/usr/bin/env bash
# Benchmark: sending a build context and building, `ecs-ship build` against `docker build` (the
# classic builder, as ecs-ship uses), on the same engine in the same run.
#
#   bench/build_bench.sh [FILES] [MEGABYTES]     default 20000 files, 500 MB; half excluded by .dockerignore
#
# Needs the stack (ci/stack up) and a release build (cargo build --release). Prints wall time and peak
# memory (max RSS) of each client, the ratio, and ecs-ship's peak memory at a quarter of the size, to
# show that memory stays flat as the context grows (the tar is streamed, never held whole).
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${1:-20000}
MB=${2:-500}
BIN=${ECS_SHIP_BIN:-target/release/ecs-ship}
WORK=${ECS_SHIP_BENCH_DIR:-/var/tmp/ecs-ship-bench}
eval "$(ci/stack env)"
[ -x "$BIN" ] || { echo "build $BIN first: cargo build --release" >&2; exit 2; }

make_context() { # make_context DIR FILES MB
  local dir=$1 files=$2 mb=$3
  if [ -f "$dir/.done-$files-$mb" ]; then return; fi
  rm -rf "$dir" && mkdir -p "$dir/kept" "$dir/excluded"
  local per=$(( mb * 1024 * 1024 / files ))
  python3 - "$dir" "$files" "$per" <<'PY'
import os, sys
d, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
block = os.urandom(per)
for i in range(n):
    half = "kept" if i % 2 == 0 else "excluded"
    sub = os.path.join(d, half, f"d{i % 100:02d}")
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, f"f{i}.bin"), "wb") as f:
        f.write(block[: per - (i % 7)] + i.to_bytes(4, "little"))
PY
  printf 'FROM busybox:stable\nRUN echo context received\n' >"$dir/Dockerfile"
  printf 'excluded\n' >"$dir/.dockerignore"
  touch "$dir/.done-$files-$mb"
}

big="$WORK/ctx-$FILES-$MB"
small="$WORK/ctx-$((FILES / 4))-$((MB / 4))"
make_context "$big" "$FILES" "$MB"
make_context "$small" "$((FILES / 4))" "$((MB / 4))"

# Each prints "seconds max-rss-kb" (GNU time, whose line is the last on stderr).
timed() { /usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -1; }
ecs_ship_build() { timed "$BIN" -q build --context "$1" --repository ecs-ship-bench/app --no-git-tag --no-cache --state "$WORK/state.json"; }
# The same work: ecs-ship labels every image (org.opencontainers.image.created), which costs the classic
# builder one more step, so docker build gets a label too.
docker_build() {
  DOCKER_BUILDKIT=0 timed docker build -q --no-cache --label "org.opencontainers.image.created=$(date -u +%FT%TZ)" \
    -t ecs-ship-bench/docker "$1"
}

read -r e_s e_m < <(ecs_ship_build "$big")
read -r d_s d_m < <(docker_build "$big")
read -r q_s q_m < <(ecs_ship_build "$small")

printf 'context: %s files, %s MB, half of it excluded by .dockerignore; engine %s\n' "$FILES" "$MB" "$DOCKER_HOST"
printf '%-34s %10s %14s\n' "client" "seconds" "max RSS (MB)"
printf '%-34s %10s %14s\n' "ecs-ship build" "$e_s" "$((e_m / 1024))"
printf '%-34s %10s %14s\n' "docker build (classic builder)" "$d_s" "$((d_m / 1024))"
printf '%-34s %10s %14s\n' "ecs-ship build, 1/4 of the context" "$q_s" "$((q_m / 1024))"
python3 -c "print(f'ratio ecs-ship / docker: {float(\"$e_s\") / float(\"$d_s\"):.2f}')"
