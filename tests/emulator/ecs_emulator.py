"""A minimal ECS emulator for what moto cannot do: services that roll out over time, fail, or roll back.

It answers DescribeServices, UpdateService, DescribeTaskDefinition, ListTasks and DescribeTasks over
awsJson1.1 on 127.0.0.1 (any other operation gets an empty object). Used by bench/wait_bench.py and by the
integration tests (`python ecs_emulator.py SCENARIO` prints its endpoint URL, then serves until stdin closes).

Scenarios:
  stable    the rollout of NEW ends SETTLE seconds after the start, stable
  rollback  at SETTLE the circuit breaker rolls back to OLD, which then looks stable
  failing   the service runs OLD; UpdateService to NEW starts a deployment whose tasks keep failing
            (failedTasks grows each poll, no circuit breaker); UpdateService back to OLD completes at once
  breaker   the service runs OLD; 2 s after UpdateService to NEW the circuit breaker rolls back to OLD,
            which a second later looks stable (one deployment, all running)
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT = "123456789012"
OLD = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:11"
NEW = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:12"
SETTLE = 7.0


def dep(status, td, desired, running, rollout, reason=None, failed=0):
    d = {"id": f"ecs-svc/{status}-{td[-2:]}", "status": status, "taskDefinition": td, "desiredCount": desired,
         "pendingCount": desired - running, "runningCount": running, "failedTasks": failed, "rolloutState": rollout}
    if reason:
        d["rolloutStateReason"] = reason
    return d


class Scenario:
    def __init__(self, kind):
        self.kind = kind
        self.start = time.monotonic()
        self.lock = threading.Lock()
        self.current = OLD
        self.failed = 0
        self.updated_at = None

    def deployments(self):
        t = time.monotonic() - self.start
        if self.kind == "breaker":
            if self.updated_at is None:
                return [dep("PRIMARY", OLD, 2, 2, "COMPLETED")]
            since = time.monotonic() - self.updated_at
            if since < 2:
                return [dep("PRIMARY", NEW, 2, 0, "IN_PROGRESS"), dep("ACTIVE", OLD, 2, 2, "COMPLETED")]
            rolled = [dep("PRIMARY", OLD, 2, 2, "IN_PROGRESS"),
                      dep("ACTIVE", NEW, 0, 0, "FAILED", "ECS deployment circuit breaker: tasks failed to start.")]
            return rolled[:1] if since > 3 else rolled
        if self.kind == "failing":
            if self.current == NEW:
                self.failed += 1
                return [dep("PRIMARY", NEW, 2, 0, "IN_PROGRESS", failed=self.failed), dep("ACTIVE", OLD, 2, 2, "COMPLETED")]
            return [dep("PRIMARY", OLD, 2, 2, "COMPLETED")]
        if t < SETTLE:
            return [dep("PRIMARY", NEW, 2, 1, "IN_PROGRESS"), dep("ACTIVE", OLD, 2, 2, "COMPLETED")]
        if self.kind == "stable":
            return [dep("PRIMARY", NEW, 2, 2, "COMPLETED")]
        rolled = [dep("PRIMARY", OLD, 2, 2, "COMPLETED"),
                  dep("ACTIVE", NEW, 0, 0, "FAILED", "ECS deployment circuit breaker: tasks failed to start.")]
        return rolled[:1] if t > SETTLE + 1 else rolled

    def service(self):
        with self.lock:
            deployments = self.deployments()
        primary = deployments[0]
        return {"serviceName": "web", "serviceArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/bench/web",
                "status": "ACTIVE", "taskDefinition": primary["taskDefinition"], "desiredCount": 2,
                "runningCount": primary["runningCount"], "pendingCount": 0, "deployments": deployments,
                "deploymentController": {"type": "ECS"},
                "events": [{"id": "e1", "createdAt": time.time() - 60, "message": "(service web) deployment started."}]}

    def update(self, request):
        with self.lock:
            self.current = request.get("taskDefinition", self.current)
            self.updated_at = time.monotonic()
        return {"service": self.service()}


def task_definition(arn):
    family, revision = arn.rsplit("/", 1)[1].split(":")
    return {"taskDefinition": {
        "taskDefinitionArn": arn, "family": family, "revision": int(revision), "status": "ACTIVE",
        "containerDefinitions": [{"name": "api", "image": f"127.0.0.1:15000/api:{revision}", "essential": True,
                                  "logConfiguration": {"logDriver": "awslogs", "options": {
                                      "awslogs-group": "/ecs/web", "awslogs-region": "us-east-1",
                                      "awslogs-stream-prefix": "ecs"}}}]}}


def serve(scenario):
    """Starts the emulator on a free loopback port; returns (server, endpoint URL)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            request = json.loads(raw or b"{}")
            op = self.headers.get("X-Amz-Target", "").split(".")[-1]
            if op == "DescribeServices":
                body = {"services": [scenario.service()], "failures": []}
            elif op == "UpdateService":
                body = scenario.update(request)
            elif op == "DescribeTaskDefinition":
                body = task_definition(request.get("taskDefinition", NEW))
            elif op == "ListTasks":
                body = {"taskArns": []}
            elif op == "DescribeTasks":
                body = {"tasks": [], "failures": []}
            else:
                body = {}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


if __name__ == "__main__":
    server, endpoint = serve(Scenario(sys.argv[1]))
    print(endpoint, flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin (or dies)
    server.shutdown()
