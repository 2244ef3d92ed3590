"""One-off tasks (a migration before a deploy): how soon each way knows the verdict, and whether it is
the right one. In one run, against fresh copies of the scripted ECS of tests/emulator, whose task runs
~2.5 s and then exits 0 ("task-ok") or 3 ("task-fails"):

- `ecs-ship run --service web --command ...` (the service's network, the container's log streamed);
- the hand-written way: `aws ecs run-task` with the service's network configuration copied by
  describe-services, then `aws ecs wait tasks-stopped` (the CLI's waiter polls every 6 s);
- the same, plus `describe-tasks` to read the container's exit code - the step that is often left
  out, and without which a failed migration passes.

Prints the median of N runs: seconds to the verdict, the exit code the step ends with, the calls made.

    ci/stack up && cargo build --release
    /var/tmp/ecs-ship-stack/venv/bin/python bench/task_bench.py target/release/ecs-ship [RUNS]
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "emulator"))
import ecs_emulator  # noqa: E402
from deploy_bench import ENV, aws_cli, calls  # noqa: E402

RUN_AND_WAIT = r"""
set -euo pipefail
NET=$(aws ecs describe-services --cluster bench --services web --query 'services[0].networkConfiguration' --output json)
TD=$(aws ecs describe-services --cluster bench --services web --query 'services[0].taskDefinition' --output text)
TASK=$(aws ecs run-task --cluster bench --task-definition "$TD" --launch-type FARGATE \
  --network-configuration "$NET" \
  --overrides '{"containerOverrides":[{"name":"api","command":["bin/migrate"]}]}' \
  --query 'tasks[0].taskArn' --output text)
aws ecs wait tasks-stopped --cluster bench --tasks "$TASK"
"""

CHECK_EXIT = r"""
CODE=$(aws ecs describe-tasks --cluster bench --tasks "$TASK" --query 'tasks[0].containers[0].exitCode' --output text)
[ "$CODE" = "0" ] || { echo "migration exited $CODE" >&2; exit 1; }
"""


def fresh(kind):
    ecs_emulator.CALLS.clear()
    ecs_emulator.TASKS.clear()
    ecs_emulator.RUN_REQUESTS.clear()
    ecs_emulator.AWSVPC[:] = [True]
    return ecs_emulator.serve(ecs_emulator.Scenario(kind))


def ecs_ship(binary):
    def run(endpoint):
        return subprocess.run([binary, "--endpoint-url", endpoint, "-q", "run", "--cluster", "bench",
                               "--service", "web", "--command", "bin/migrate"],
                              env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    return run


def script(aws, body):
    def run(endpoint):
        with tempfile.TemporaryDirectory() as d:
            env = dict(ENV, AWS_ENDPOINT_URL=endpoint, PATH=os.path.dirname(aws) + os.pathsep + ENV["PATH"])
            return subprocess.run(["bash", "-c", body], env=env, cwd=d, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL).returncode
    return run


def measure(kind, run, runs):
    times, codes, counted = [], set(), None
    for _ in range(runs):
        server, endpoint = fresh(kind)
        try:
            start = time.perf_counter()
            codes.add(run(endpoint))
            times.append(time.perf_counter() - start)
            counted = calls(endpoint)
        finally:
            server.shutdown()
    return statistics.median(times), sorted(codes), counted


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/ecs-ship"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    aws = aws_cli()
    ways = [
        ("ecs-ship run", ecs_ship(binary)),
        ("aws run-task + wait tasks-stopped", script(aws, RUN_AND_WAIT)),
        ("aws run-task + wait + describe-tasks exit code", script(aws, RUN_AND_WAIT + CHECK_EXIT)),
    ]
    print(f"scripted ECS on loopback, the task stops ~2.5 s after RunTask; median of {runs} runs")
    print(f"{'one-off task':<48} {'task':<10} {'seconds':>8} {'exit':>5} {'calls':>6}")
    for kind in ("task-ok", "task-fails"):
        for name, run in ways:
            seconds, codes, (total, _) = measure(kind, run, runs)
            print(f"{name:<48} {kind:<10} {seconds:>8.2f} {','.join(map(str, codes)):>5} {total:>6}")


if __name__ == "__main__":
    main()
