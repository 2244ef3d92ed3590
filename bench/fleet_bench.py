"""One release to many targets: 100 services x 3 regions x 2 accounts (600 rollouts) on the scripted ECS
of tests/emulator/fleet_emulator.py, where each service rolls out for its own time up to SLOWEST
seconds and every 20th DescribeServices is throttled. Side by side, in one run:

  ecs-ship --targets  one `ecs-ship deploy --targets FILE`: every target at once, one batched wait each
  shell loop          what a team scripts today: `for target in ...; do ecs-ship deploy ...; done`,
                      one single-target run after another

For each: the time to the last verdict, how far that is past the slowest rollout (the floor: nothing can
end before it), the ECS/STS calls made (DescribeServices apart: at most 10 services a call), the peak
number of calls in flight at once, and the throttled calls absorbed.

    ci/stack up && cargo build --release
    /var/tmp/ecs-ship-stack/venv/bin/python bench/fleet_bench.py target/release/ecs-ship [SERVICES] [SLOWEST]
"""

import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "emulator"))
import fleet_emulator  # noqa: E402

ACCOUNTS, REGIONS = 2, 3
THROTTLE = 20
IMAGE = "api=127.0.0.1:15000/api@sha256:" + "ab" * 32
ENV = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
           AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", NO_COLOR="1")
for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
    ENV.pop(key, None)
COMMON = ["--image", IMAGE, "--poll-interval", "5s", "--no-create-log-group", "--timeout", "10m", "-q"]


def fresh(services, slowest):
    """New targets (their services on revision 1), each on its own endpoint; the counters reset."""
    fleet_emulator.reset()
    served = fleet_emulator.serve(fleet_emulator.targets(ACCOUNTS, REGIONS, services, slowest, THROTTLE))
    return served


def stats():
    with fleet_emulator.LOCK:
        s = fleet_emulator.STATS
        return dict(s["calls"]), s["peak_in_flight"], s["throttled"]


def stop(served):
    for server, _, _ in served:
        server.shutdown()
        server.server_close()


def service_args(services):
    args = []
    for i in range(services):
        args += ["--service", f"svc-{i:03d}"]
    return args


def targets_file(served, services, path):
    with open(path, "w") as f:
        f.write("defaults:\n  cluster: bench\n  services: [%s]\ntargets:\n"
                % ", ".join(f"svc-{i:03d}" for i in range(services)))
        for _, t, endpoint in served:
            f.write(f"  - name: {t.account}/{t.region}\n    region: {t.region}\n    endpoint_url: {endpoint}\n")


def timed(cmd):
    start = time.monotonic()
    done = subprocess.run(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        sys.exit(f"{cmd[:3]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def run_fleet(binary, services, slowest, workdir):
    served = fresh(services, slowest)
    path = os.path.join(workdir, "targets.yml")
    targets_file(served, services, path)
    seconds = timed([binary, "deploy", "--targets", path] + COMMON)
    calls, peak, throttled = stats()
    stop(served)
    return seconds, calls, peak, throttled


def run_loop(binary, services, slowest, workdir):
    served = fresh(services, slowest)
    script = os.path.join(workdir, "loop.sh")
    with open(script, "w") as f:
        f.write("set -e\n")
        for _, t, endpoint in served:
            line = [binary, "deploy", "--region", t.region, "--endpoint-url", endpoint, "--cluster", "bench"]
            line += service_args(services) + COMMON
            f.write(" ".join(f"'{a}'" for a in line) + "\n")
    seconds = timed(["bash", script])
    calls, peak, throttled = stats()
    stop(served)
    return seconds, calls, peak, throttled


def main():
    binary = os.path.abspath(sys.argv[1])
    services = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    slowest = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
    targets = ACCOUNTS * REGIONS
    print(f"{services} services x {REGIONS} regions x {ACCOUNTS} accounts = {services * targets} rollouts; "
          f"the slowest takes {slowest:.0f} s; every {THROTTLE}th DescribeServices is throttled")
    with tempfile.TemporaryDirectory() as workdir:
        rows = [("ecs-ship --targets", run_fleet(binary, services, slowest, workdir)),
                ("shell loop", run_loop(binary, services, slowest, workdir))]
    header = f"{'':<20} {'last verdict':>12} {'past slowest':>12} {'API calls':>9} {'Describe':>8} " \
             f"{'peak in flight':>14} {'throttled':>9}"
    print(header)
    for name, (seconds, calls, peak, throttled) in rows:
        total = sum(calls.values())
        print(f"{name:<20} {seconds:>11.1f}s {seconds - slowest:>11.1f}s {total:>9} "
              f"{calls.get('DescribeServices', 0):>8} {peak:>14} {throttled:>9}")
    fleet, loop = rows[0][1][0], rows[1][1][0]
    print(f"the shell loop takes {loop / fleet:.1f}x as long")
    for name, (_, calls, _, _) in rows:
        print(f"{name}: " + ", ".join(f"{op} {n}" for op, n in sorted(calls.items())))


if __name__ == "__main__":
    main()
