"""Benchmark: how fast does a waiter notice that a rollout finished, or failed?

Runs the minimal ECS emulator of tests/emulator (awsJson1.1 on 127.0.0.1) whose service rolls out over time, then measures, in the same run:
  - `ecs-ship wait` and the botocore `services_stable` waiter (what `aws ecs wait services-stable` runs),
  - the time from the service becoming stable on the new revision to the waiter's exit,
  - the time from the rollout failing (circuit-breaker rollback) to the waiter's exit, and its verdict.

Usage: ci/stack up; cargo build; <stack venv>/bin/python bench/wait_bench.py [path/to/ecs-ship]
"""

import os
import subprocess
import sys
import time

import boto3
from botocore.config import Config

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "emulator"))
import ecs_emulator  # noqa: E402
from ecs_emulator import NEW, SETTLE, Scenario  # noqa: E402


def run_ecs_ship(binary, endpoint):
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
           "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true", "PATH": "/usr/bin:/bin"}
    p = subprocess.run([binary, "wait", "--cluster", "bench", "--service", "web", "--task-definition", NEW,
                        "--timeout", "5m", "-q"], env=env, capture_output=True, text=True)
    verdict = {0: "success", 4: "failed (exit 4)", 5: "timed out"}.get(p.returncode, f"exit {p.returncode}")
    return verdict


def run_botocore(endpoint):
    client = boto3.client("ecs", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="x",
                          aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
    try:
        client.get_waiter("services_stable").wait(cluster="bench", services=["web"])
        return "success"
    except Exception as e:  # noqa: BLE001 - the waiter raises WaiterError
        return f"failed ({type(e).__name__})"


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/ecs-ship"
    rows = []
    for kind in ["stable", "rollback"]:
        for name, waiter in [("ecs-ship wait", run_ecs_ship),
                             ("botocore services_stable (aws ecs wait)", lambda _binary, endpoint: run_botocore(endpoint))]:
            scenario = Scenario(kind)
            server, endpoint = ecs_emulator.serve(scenario)
            verdict = waiter(binary, endpoint)
            after = time.monotonic() - scenario.start - SETTLE
            server.shutdown()
            right = (verdict == "success") == (kind == "stable")
            rows.append((kind, name, f"{after:6.2f} s", verdict, "right" if right else "WRONG"))
    print(f"rollout ends {SETTLE:.0f} s after the waiter starts; 'after' = seconds from that moment to the waiter's exit")
    print(f"{'scenario':<9} {'waiter':<40} {'after':>9}  {'verdict':<18} {'verdict is'}")
    for r in rows:
        print(f"{r[0]:<9} {r[1]:<40} {r[2]:>9}  {r[3]:<18} {r[4]}")


if __name__ == "__main__":
    main()
