"""Benchmark: how fast does a waiter notice that a rollout finished, or failed?

Runs a minimal ECS emulator (DescribeServices, ListTasks, DescribeTasks, DescribeTaskDefinition over
awsJson1.1 on 127.0.0.1) whose service rolls out over time, then measures, in the same run:
  - `ecs-ship wait` and the botocore `services_stable` waiter (what `aws ecs wait services-stable` runs),
  - the time from the service becoming stable on the new revision to the waiter's exit,
  - the time from the rollout failing (circuit-breaker rollback) to the waiter's exit, and its verdict.

Usage: ci/stack up; cargo build; <stack venv>/bin/python bench/wait_bench.py [path/to/ecs-ship]
"""

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from botocore.config import Config

OLD = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:11"
NEW = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:12"
SETTLE = 7.0  # seconds after the start at which the rollout ends (not a multiple of the 2 s poll)


def dep(status, td, desired, running, rollout, reason=None):
    d = {"id": f"ecs-svc/{status}-{td[-2:]}", "status": status, "taskDefinition": td, "desiredCount": desired,
         "pendingCount": desired - running, "runningCount": running, "failedTasks": 0, "rolloutState": rollout}
    if reason:
        d["rolloutStateReason"] = reason
    return d


class Scenario:
    def __init__(self, kind):
        self.kind = kind
        self.start = time.monotonic()

    def service(self):
        t = time.monotonic() - self.start
        if t < SETTLE:
            deployments = [dep("PRIMARY", NEW, 2, 1, "IN_PROGRESS"), dep("ACTIVE", OLD, 2, 2, "COMPLETED")]
        elif self.kind == "stable":
            deployments = [dep("PRIMARY", NEW, 2, 2, "COMPLETED")]
        else:  # the circuit breaker rolled back: the old revision is PRIMARY again and soon "stable"
            deployments = [dep("PRIMARY", OLD, 2, 2, "COMPLETED"),
                           dep("ACTIVE", NEW, 0, 0, "FAILED", "ECS deployment circuit breaker: tasks failed to start.")]
            if t > SETTLE + 1:
                deployments = deployments[:1]
        primary = deployments[0]
        return {"serviceName": "web", "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/bench/web",
                "status": "ACTIVE", "taskDefinition": primary["taskDefinition"], "desiredCount": 2,
                "runningCount": primary["runningCount"], "pendingCount": 0, "deployments": deployments,
                "events": [{"id": "e1", "createdAt": time.time() - 60, "message": "(service web) deployment started."}]}


SCENARIO = None


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        op = self.headers.get("X-Amz-Target", "").split(".")[-1]
        if op == "DescribeServices":
            body = {"services": [SCENARIO.service()], "failures": []}
        elif op == "ListTasks":
            body = {"taskArns": []}
        elif op == "DescribeTasks":
            body = {"tasks": [], "failures": []}
        elif op == "DescribeTaskDefinition":
            body = {"taskDefinition": {"family": "web", "taskDefinitionArn": NEW,
                                       "containerDefinitions": [{"name": "api", "image": "x"}]}}
        else:
            body = {}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


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
    global SCENARIO
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/ecs-ship"
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    rows = []
    for kind in ["stable", "rollback"]:
        for name, waiter in [("ecs-ship wait", lambda: run_ecs_ship(binary, endpoint)),
                             ("botocore services_stable (aws ecs wait)", lambda: run_botocore(endpoint))]:
            SCENARIO = Scenario(kind)
            verdict = waiter()
            after = time.monotonic() - SCENARIO.start - SETTLE
            right = (verdict == "success") == (kind == "stable")
            rows.append((kind, name, f"{after:6.2f} s", verdict, "right" if right else "WRONG"))
    server.shutdown()
    print(f"rollout ends {SETTLE:.0f} s after the waiter starts; 'after' = seconds from that moment to the waiter's exit")
    print(f"{'scenario':<9} {'waiter':<40} {'after':>9}  {'verdict':<18} {'verdict is'}")
    for r in rows:
        print(f"{r[0]:<9} {r[1]:<40} {r[2]:>9}  {r[3]:<18} {r[4]}")


if __name__ == "__main__":
    main()
