"""A scripted ECS for many targets at once (regions x accounts), each with many services that roll out
over time, for bench/fleet_bench.py and the tests of several targets at scale.

Each target is its own endpoint (a loopback port) serving one account in one region: STS
GetCallerIdentity (that account), ECS DescribeServices (at most 10 services a call, as ECS allows),
UpdateService, DescribeTaskDefinition, ListTaskDefinitions, RegisterTaskDefinition (echoed), and
ListServiceDeployments (none: the wait judges by DescribeServices), CloudWatch Logs answering `{}`.
A service updated to a new revision rolls out for its own time - spread evenly between FASTEST and
SLOWEST seconds by its index - and then is COMPLETED on that revision. Every THROTTLE-th
DescribeServices call (0: none) answers ThrottlingException, as a busy account does.

GET /calls on any endpoint gives every target's calls by operation, and the peak number of requests in
flight at once (across all targets): what a run cost the ECS API.

    python fleet_emulator.py ACCOUNTS REGIONS SERVICES SLOWEST [THROTTLE]
prints one JSON line [{"account", "region", "endpoint"}...] and serves until stdin closes.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNTS = ["123456789012", "210987654321", "345678901234"]
REGIONS = ["us-east-1", "eu-west-1", "ap-northeast-1", "us-west-2", "eu-central-1"]
FASTEST = 1.0

LOCK = threading.Lock()
STATS = {"calls": {}, "in_flight": 0, "peak_in_flight": 0, "throttled": 0}


class Target:
    def __init__(self, account, region, services, slowest, throttle):
        self.account = account
        self.region = region
        self.throttle = throttle
        self.described = 0
        self.revisions = {}
        self.services = {}
        for i in range(services):
            name = f"svc-{i:03d}"
            settle = FASTEST + (slowest - FASTEST) * (i / max(services - 1, 1))
            self.services[name] = {"current": self.arn(name, 1), "previous": None, "updated": None,
                                   "settle": settle}
            self.revisions[name] = 1

    def arn(self, family, revision):
        return f"arn:aws:ecs:{self.region}:{self.account}:task-definition/{family}:{revision}"

    def deployments(self, s):
        now = time.monotonic()
        if s["updated"] is None or now - s["updated"] >= s["settle"]:
            return [{"id": "ecs-svc/1", "status": "PRIMARY", "taskDefinition": s["current"], "desiredCount": 2,
                     "runningCount": 2, "pendingCount": 0, "failedTasks": 0, "rolloutState": "COMPLETED",
                     "rolloutStateReason": "ECS deployment ecs-svc/1 completed.", "createdAt": time.time() - 60,
                     "updatedAt": time.time()}]
        return [{"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": s["current"], "desiredCount": 2,
                 "runningCount": 1, "pendingCount": 1, "failedTasks": 0, "rolloutState": "IN_PROGRESS",
                 "createdAt": time.time() - 5, "updatedAt": time.time()},
                {"id": "ecs-svc/1", "status": "ACTIVE", "taskDefinition": s["previous"], "desiredCount": 2,
                 "runningCount": 2, "pendingCount": 0, "failedTasks": 0, "rolloutState": "COMPLETED",
                 "createdAt": time.time() - 60, "updatedAt": time.time()}]

    def service(self, name, cluster):
        s = self.services[name]
        deployments = self.deployments(s)
        return {"serviceName": name, "clusterArn": f"arn:aws:ecs:{self.region}:{self.account}:cluster/{cluster}",
                "serviceArn": f"arn:aws:ecs:{self.region}:{self.account}:service/{cluster}/{name}",
                "status": "ACTIVE", "taskDefinition": s["current"], "desiredCount": 2,
                "runningCount": deployments[0]["runningCount"], "pendingCount": 0,
                "deployments": deployments, "deploymentController": {"type": "ECS"}, "launchType": "FARGATE",
                "events": []}

    def task_definition(self, ident):
        family = ident.rsplit("/", 1)[-1].split(":")[0]
        revision = int(ident.rsplit(":", 1)[1]) if ":" in ident.rsplit("/", 1)[-1] else self.revisions.get(family, 1)
        return {"taskDefinitionArn": self.arn(family, revision), "family": family, "revision": revision,
                "status": "ACTIVE", "containerDefinitions": [
                    {"name": "api", "image": f"127.0.0.1:15000/{family}:{revision}", "essential": True,
                     "memory": 128,
                     "logConfiguration": {"logDriver": "awslogs", "options": {
                         "awslogs-group": f"/ecs/{family}", "awslogs-region": self.region,
                         "awslogs-stream-prefix": "ecs"}}}]}

    def handle(self, op, request):
        if op == "DescribeServices":
            names = request.get("services", [])
            if len(names) > 10:
                return 400, {"__type": "InvalidParameterException",
                             "message": "services can have at most 10 items"}
            self.described += 1
            if self.throttle and self.described % self.throttle == 0:
                STATS["throttled"] += 1
                return 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
            cluster = request.get("cluster", "default").rsplit("/", 1)[-1]
            found = [self.service(n, cluster) for n in names if n in self.services]
            failures = [{"arn": f"arn:aws:ecs:{self.region}:{self.account}:service/{cluster}/{n}",
                         "reason": "MISSING"} for n in names if n not in self.services]
            return 200, {"services": found, "failures": failures}
        if op == "UpdateService":
            name = request["service"]
            s = self.services[name]
            if request.get("taskDefinition") and request["taskDefinition"] != s["current"]:
                s["previous"], s["current"] = s["current"], request["taskDefinition"]
                s["updated"] = time.monotonic()
            return 200, {"service": self.service(name, request.get("cluster", "default"))}
        if op == "DescribeTaskDefinition":
            return 200, {"taskDefinition": self.task_definition(request["taskDefinition"]), "tags": []}
        if op == "ListTaskDefinitions":
            family = request.get("familyPrefix", "")
            return 200, {"taskDefinitionArns": [self.arn(family, self.revisions.get(family, 1))]}
        if op == "RegisterTaskDefinition":
            td = dict(request)
            tags = td.pop("tags", [])
            family = td.get("family", "x")
            self.revisions[family] = self.revisions.get(family, 1) + 1
            td.update(taskDefinitionArn=self.arn(family, self.revisions[family]),
                      revision=self.revisions[family], status="ACTIVE")
            return 200, {"taskDefinition": td, "tags": tags}
        if op == "ListServiceDeployments":
            return 200, {"serviceDeployments": []}
        return 200, {}


def serve(targets):
    """Starts one endpoint per target; returns [(server, target, endpoint)]."""
    out = []
    for target in targets:
        class Handler(BaseHTTPRequestHandler):
            me = target

            def log_message(self, *args):
                pass

            def reply(self, status, body, content_type="application/x-amz-json-1.1"):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with LOCK:
                    STATS["in_flight"] += 1
                    STATS["peak_in_flight"] = max(STATS["peak_in_flight"], STATS["in_flight"])
                try:
                    if raw.startswith(b"Action=GetCallerIdentity"):
                        with LOCK:
                            STATS["calls"]["GetCallerIdentity"] = STATS["calls"].get("GetCallerIdentity", 0) + 1
                        xml = (f"<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                               f"<GetCallerIdentityResult><Arn>arn:aws:iam::{self.me.account}:user/bench</Arn>"
                               f"<UserId>AIDABENCH</UserId><Account>{self.me.account}</Account>"
                               f"</GetCallerIdentityResult></GetCallerIdentityResponse>").encode()
                        return self.reply(200, xml, "text/xml")
                    request = json.loads(raw or b"{}")
                    op = self.headers.get("X-Amz-Target", "").split(".")[-1]
                    with LOCK:
                        STATS["calls"][op] = STATS["calls"].get(op, 0) + 1
                        status, body = self.me.handle(op, request)
                    return self.reply(status, body)
                finally:
                    with LOCK:
                        STATS["in_flight"] -= 1

            def do_GET(self):
                with LOCK:
                    body = {"calls": dict(STATS["calls"]), "peak_in_flight": STATS["peak_in_flight"],
                            "throttled": STATS["throttled"]}
                self.reply(200, body, "application/json")

        # A deep accept queue: many connections arriving at once must not wait for SYN retries.
        ThreadingHTTPServer.request_queue_size = 1024
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        out.append((server, target, f"http://127.0.0.1:{server.server_address[1]}"))
    return out


def targets(accounts, regions, services, slowest, throttle=0):
    """Every region of every account: ACCOUNTS[:accounts] x REGIONS[:regions]."""
    return [Target(a, r, services, slowest, throttle) for a in ACCOUNTS[:accounts] for r in REGIONS[:regions]]


def reset():
    with LOCK:
        STATS.update(calls={}, in_flight=0, peak_in_flight=0, throttled=0)


if __name__ == "__main__":
    accounts, regions, services = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    slowest = float(sys.argv[4])
    throttle = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    served = serve(targets(accounts, regions, services, slowest, throttle))
    print(json.dumps([{"account": t.account, "region": t.region, "endpoint": e} for _, t, e in served]),
          flush=True)
    sys.stdin.read()
