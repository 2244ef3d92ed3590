"""Benchmark: service deployments of every strategy - how soon after a deployment ends does each
waiter exit, with which verdict, and how many API calls does each poll cost?

Runs the scripted service deployments of tests/emulator (service_deployments.py: ROLLING, BLUE_GREEN,
LINEAR, CANARY, and a blue/green rolled back by an alarm during its bake time), starts each deployment
with UpdateService, and measures in the same run:
  - `ecs-ship wait` (the verdict from the service deployment), and
  - the botocore `services_stable` waiter that `aws ecs wait services-stable` runs (15 s between polls,
    DescribeServices only), and the same waiter polling every second (a script's quick loop),
each against a fresh copy of the same scenario: the time from the deployment's end (SUCCESSFUL, or
ROLLBACK_SUCCESSFUL) to the waiter's exit - negative when it exited before the deployment ended - its
verdict, and the calls per poll.

Usage: ci/stack up; cargo build; <stack venv>/bin/python bench/deployment_bench.py [path/to/ecs-ship]
"""

import os
import subprocess
import sys
import time

import boto3
from botocore.config import Config

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "emulator"))
import ecs_emulator  # noqa: E402
from ecs_emulator import CALLS, NEW, Scenario  # noqa: E402

SCENARIOS = [("sd-rolling", True), ("sd-bluegreen", True), ("sd-linear", True), ("sd-canary", True),
             ("sd-alarm", False)]


def client(endpoint):
    return boto3.client("ecs", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="x",
                        aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))


def run_ecs_ship(binary, endpoint):
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
           "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true", "PATH": "/usr/bin:/bin"}
    p = subprocess.run([binary, "wait", "--cluster", "c", "--service", "web", "--task-definition", NEW,
                        "--timeout", "2m", "-q"], env=env, capture_output=True, text=True)
    return {0: "success", 4: "failed (exit 4)", 5: "timed out"}.get(p.returncode, f"exit {p.returncode}")


def run_botocore(_binary, endpoint, delay=15):
    try:
        client(endpoint).get_waiter("services_stable").wait(cluster="c", services=["web"],
                                                            WaiterConfig={"Delay": delay, "MaxAttempts": 120})
        return "success"
    except Exception as e:  # noqa: BLE001 - the waiter raises WaiterError
        return f"failed ({type(e).__name__})"


def end_of(deployment):
    """When the deployment ended: SUCCESSFUL, or its rollback done."""
    if deployment.rollback_started is not None:
        return deployment.rollback_started + 1.0
    return deployment.ends_at()


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/ecs-ship"
    rows = []
    for kind, succeeds in SCENARIOS:
        for name, waiter in [("ecs-ship wait", run_ecs_ship),
                             ("botocore services_stable (aws ecs wait)", run_botocore),
                             ("services_stable polled every 1 s", lambda b, e: run_botocore(b, e, 1))]:
            CALLS.clear()
            scenario = Scenario(kind)
            server, endpoint = ecs_emulator.serve(scenario)
            client(endpoint).update_service(cluster="c", service="web", taskDefinition=NEW)
            CALLS.clear()
            verdict = waiter(binary, endpoint)
            exited = time.time()
            after = exited - end_of(scenario.sd.current())
            server.shutdown()
            polls = max(CALLS.get("DescribeServices", 0), 1)
            per_poll = (CALLS.get("DescribeServices", 0) + CALLS.get("DescribeServiceDeployments", 0)) / polls
            right = (verdict == "success") == succeeds and after >= 0
            rows.append((kind, name, f"{after:6.2f} s", f"{per_poll:.1f}", verdict, "right" if right else "WRONG"))
    print("'after' = seconds from the deployment's end (SUCCESSFUL or ROLLBACK_SUCCESSFUL) to the waiter's exit;")
    print("negative: it exited before the deployment ended. calls/poll: DescribeServices + DescribeServiceDeployments")
    print(f"{'scenario':<13} {'waiter':<40} {'after':>9} {'calls/poll':>10}  {'verdict':<18} {'verdict is'}")
    for r in rows:
        print(f"{r[0]:<13} {r[1]:<40} {r[2]:>9} {r[3]:>10}  {r[4]:<18} {r[5]}")


if __name__ == "__main__":
    main()
