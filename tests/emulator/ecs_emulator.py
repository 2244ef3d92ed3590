"""A minimal ECS emulator for what moto cannot do: services that roll out over time, fail, or roll back.

It answers DescribeServices, UpdateService, DescribeTaskDefinition, ListTasks and DescribeTasks over
awsJson1.1 on 127.0.0.1 (any other operation gets an empty object), and Elastic Load Balancing's
DescribeTargetHealth (query protocol, XML) for the service's target group, whose one target fails its
health check with a 404 as that team's did (moto cannot produce an unhealthy target). RegisterTaskDefinition
echoes back everything it receives, fields unknown to any SDK included (moto drops those), so a test can
prove what went over the wire. Used by bench/wait_bench.py and by the
integration tests (`python ecs_emulator.py SCENARIO` prints its endpoint URL, then serves until stdin closes).

Scenarios:
  stable    the rollout of NEW ends SETTLE seconds after the start, stable
  rollback  at SETTLE the circuit breaker rolls back to OLD, which then looks stable
  failing   the service runs OLD; UpdateService to NEW starts a deployment whose tasks keep failing
            (failedTasks grows each poll, no circuit breaker); UpdateService back to OLD completes at once
  breaker   the service runs OLD; 2 s after UpdateService to NEW the circuit breaker rolls back to OLD,
            which a second later looks stable (one deployment, all running)
  flaky     as `stable`, but DescribeServices answers HTTP 500 (ServerException) from its 2nd to its
            7th call: a burst of server errors in the middle of a rollout that then completes
  instant   the service runs OLD; UpdateService to NEW completes at once (a deploy at its API floor)
  pair      two services, for a deploy of several: `web` as in `instant`, `worker` as in `failing`
  sd-*      service deployments of every strategy over time: see service_deployments.py
  cd-*      a CODE_DEPLOY service deployed by CodeDeploy, lifecycle event by event: see codedeploy.py

One-off tasks (RunTask, DescribeTasks, StopTask, and GetLogEvents for the task's awslogs stream
ecs/api/<task-id> in /ecs/web); the service then runs OLD on awsvpc (FARGATE, platform 1.4.0) and RunTask
requests are kept for GET /calls:
  task-ok           the task runs ~2.5 s, logs three lines, container `api` exits 0
  task-fails        as task-ok, but `api` exits 3 after logging an error
  task-unstartable  the task stops after ~1 s without running: CannotPullContainerError, no exit code
  task-hangs        the task keeps running until StopTask
  no-capacity       RunTask answers with a failure (no task)
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from codedeploy import CodeDeploy
from service_deployments import ServiceDeployments

ACCOUNT = "123456789012"
OLD = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:11"
NEW = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:12"
SETTLE = 7.0
TARGET_GROUP = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/web-tg/0123456789abcdef"
TARGET_HEALTH = f"""<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
<DescribeTargetHealthResult><TargetHealthDescriptions>
<member><Target><Id>10.0.1.23</Id><Port>8080</Port></Target><HealthCheckPort>8080</HealthCheckPort>
<TargetHealth><State>unhealthy</State><Reason>Target.ResponseCodeMismatch</Reason>
<Description>Health checks failed with these codes: [404]</Description></TargetHealth></member>
<member><Target><Id>10.0.1.24</Id><Port>8080</Port></Target><HealthCheckPort>8080</HealthCheckPort>
<TargetHealth><State>healthy</State></TargetHealth></member>
</TargetHealthDescriptions></DescribeTargetHealthResult>
<ResponseMetadata><RequestId>emulator</RequestId></ResponseMetadata></DescribeTargetHealthResponse>"""

CALLER = f"""<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<GetCallerIdentityResult><Arn>arn:aws:iam::{ACCOUNT}:user/emulator</Arn><UserId>AIDAEMULATOR</UserId>
<Account>{ACCOUNT}</Account></GetCallerIdentityResult>
<ResponseMetadata><RequestId>emulator</RequestId></ResponseMetadata></GetCallerIdentityResponse>"""


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
        self.sd = ServiceDeployments(kind) if kind.startswith("sd-") else None
        self.cd = CodeDeploy(kind) if kind.startswith("cd-") else None

    def deployments(self):
        t = time.monotonic() - self.start
        if self.sd:
            return self.sd.legacy()
        if self.kind == "breaker":
            if self.updated_at is None:
                return [dep("PRIMARY", OLD, 2, 2, "COMPLETED")]
            since = time.monotonic() - self.updated_at
            if since < 2:
                return [dep("PRIMARY", NEW, 2, 0, "IN_PROGRESS"), dep("ACTIVE", OLD, 2, 2, "COMPLETED")]
            rolled = [dep("PRIMARY", OLD, 2, 2, "IN_PROGRESS"),
                      dep("ACTIVE", NEW, 0, 0, "FAILED", "ECS deployment circuit breaker: tasks failed to start.")]
            return rolled[:1] if since > 3 else rolled
        if self.kind == "stuck":  # neither the rollout nor a rollback ever settles
            return [dep("PRIMARY", self.current, 2, 1, "IN_PROGRESS"), dep("ACTIVE", OLD, 2, 2, "COMPLETED")]
        if self.kind == "idle":  # desiredCount 0: stable with nothing running
            return [dep("PRIMARY", self.current, 0, 0, "COMPLETED")]
        if self.cd:
            return [dep("PRIMARY", OLD, 2, 2, "COMPLETED")]
        if self.kind in ("instant", "inactive", "draining", "hostile", "update-fails", "raced") or self.kind.startswith("task") \
                or self.kind == "no-capacity":
            return [dep("PRIMARY", self.current, 2, 2, "COMPLETED")]
        if self.kind == "failing":
            if self.current != OLD:
                self.failed += 1
                return [dep("PRIMARY", self.current, 2, 0, "IN_PROGRESS", failed=self.failed), dep("ACTIVE", OLD, 2, 2, "COMPLETED")]
            return [dep("PRIMARY", OLD, 2, 2, "COMPLETED")]
        if t < SETTLE:
            return [dep("PRIMARY", NEW, 2, 1, "IN_PROGRESS"), dep("ACTIVE", OLD, 2, 2, "COMPLETED")]
        if self.kind in ("stable", "flaky"):
            return [dep("PRIMARY", NEW, 2, 2, "COMPLETED")]
        rolled = [dep("PRIMARY", OLD, 2, 2, "COMPLETED"),
                  dep("ACTIVE", NEW, 0, 0, "FAILED", "ECS deployment circuit breaker: tasks failed to start.")]
        return rolled[:1] if t > SETTLE + 1 else rolled

    def service(self, name="web"):
        with self.lock:
            deployments = self.deployments()
        primary = deployments[0]
        status = {"inactive": "INACTIVE", "draining": "DRAINING"}.get(self.kind, "ACTIVE")
        message = "(service web) deployment started."
        if self.kind == "hostile":  # terminal control sequences and a workflow command in an event
            message = "(service web) \x1b]0;owned\x07\x1b[2Jcleared\n::add-mask::x\n```\n# heading"
        return {"serviceName": name, "serviceArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/bench/{name}",
                "status": status, "taskDefinition": primary["taskDefinition"],
                "desiredCount": primary["desiredCount"],
                "runningCount": primary["runningCount"], "pendingCount": 0, "deployments": deployments,
                "deploymentController": {"type": "CODE_DEPLOY" if self.cd else "ECS"}, "launchType": "FARGATE",
                "loadBalancers": [{"targetGroupArn": TARGET_GROUP, "containerName": "api", "containerPort": 8080}],
                "events": [{"id": "e1", "createdAt": time.time() - 60, "message": message}],
                **({"networkConfiguration": {"awsvpcConfiguration": {
                    "subnets": ["subnet-0a1b2c3d"], "securityGroups": ["sg-0a1b2c3d"], "assignPublicIp": "DISABLED"}},
                    "platformVersion": "1.4.0"} if self.kind.startswith("task") or self.kind == "no-capacity" else {}),
                **(self.sd.service_fields() if self.sd and not self.sd.unavailable() else {})}

    def update(self, request):
        with self.lock:
            self.current = request.get("taskDefinition", self.current)
            self.updated_at = time.monotonic()
            if self.sd:
                self.sd.update(self.current)
        body = {"service": self.service()}
        if self.kind == "raced":  # another deploy put web:13 in place after our check read web:11
            raced = dep("ACTIVE", f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:13", 2, 2, "COMPLETED")
            raced["createdAt"] = time.time() - 5
            body["service"]["deployments"].append(raced)
        return body


AWSVPC = []  # set for the task scenarios: revisions then use awsvpc networking, as on Fargate


def task_definition(arn):
    if ":" not in arn.rsplit("/", 1)[-1]:
        arn = NEW  # a bare family: its latest revision
    elif "/" not in arn:
        arn = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{arn}"  # family:revision
    family, revision = arn.rsplit("/", 1)[1].split(":")
    network = {"networkMode": "awsvpc"} if AWSVPC else {}
    return {"taskDefinition": {**network,
        "taskDefinitionArn": arn, "family": family, "revision": int(revision), "status": "ACTIVE",
        "containerDefinitions": [{"name": "api", "image": f"127.0.0.1:15000/api:{revision}", "essential": True,
                                  "logConfiguration": {"logDriver": "awslogs", "options": {
                                      "awslogs-group": "/ecs/web", "awslogs-region": "us-east-1",
                                      "awslogs-stream-prefix": "ecs"}}}]}}


TASK_LINES = {
    "task-ok": ["migrating 1/3", "migrating 2/3", "migrated: 3 steps"],
    "task-fails": ["migrating 1/3", "ERROR: relation \"users\" already exists", "migration failed"],
    "task-hangs": ["waiting for a lock"],
}


class Task:
    def __init__(self, kind, request):
        self.kind = kind
        self.request = request
        self.start = time.monotonic()
        self.stopped_at = None
        self.id = f"{int(time.time() * 1000) % 10**12:012d}abcdef0123456789ab"
        self.arn = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/bench/{self.id}"

    def describe(self):
        t = time.monotonic() - self.start
        container = {"name": "api", "lastStatus": "PENDING"}
        task = {"taskArn": self.arn, "lastStatus": "PROVISIONING", "desiredStatus": "RUNNING",
                "taskDefinitionArn": self.request.get("taskDefinition"), "containers": [container]}
        ends = {"task-ok": 2.5, "task-fails": 2.5, "task-unstartable": 1.0}.get(self.kind)
        if self.stopped_at is not None:
            task.update(lastStatus="STOPPED", desiredStatus="STOPPED", stoppedReason="Task stopped by user",
                        stopCode="UserInitiated")
            container.update(lastStatus="STOPPED", exitCode=137)
        elif ends is not None and t >= ends:
            task.update(lastStatus="STOPPED", desiredStatus="STOPPED")
            if self.kind == "task-unstartable":
                task.update(stopCode="TaskFailedToStart", stoppedReason=(
                    "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                    "failed to resolve ref 127.0.0.1:15000/api:nope: not found"))
                container.update(lastStatus="STOPPED", reason="CannotPullContainerError: ref not found")
            else:
                task.update(stopCode="EssentialContainerExited",
                            stoppedReason="Essential container in task exited")
                container.update(lastStatus="STOPPED", exitCode=0 if self.kind == "task-ok" else 3)
        elif t >= 0.5:
            task["lastStatus"] = "RUNNING"
            container["lastStatus"] = "RUNNING"
        return task

    def lines(self):
        t = time.monotonic() - self.start
        if self.kind == "task-unstartable" or t < 0.5:
            return []
        all_lines = TASK_LINES.get(self.kind, [])
        shown = len(all_lines) if self.describe()["lastStatus"] == "STOPPED" else int((t - 0.5) / 0.6) + 1
        return all_lines[:shown]


TASKS = {}
RUN_REQUESTS = []
REVISIONS = {}
PAIR = {}  # the `pair` scenario's services
CALLS = {}  # operation -> how many times it was called; GET /calls shows it (bench/deploy_bench)


def register(request):
    """Echoes the request as the registered revision, as ECS does with every field it accepts."""
    td = dict(request)
    tags = td.pop("tags", [])
    family = td.get("family", "x")
    REVISIONS[family] = REVISIONS.get(family, 0) + 1
    td.update(taskDefinitionArn=f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{family}:{REVISIONS[family]}",
              revision=REVISIONS[family], status="ACTIVE")
    return {"taskDefinition": td, "tags": tags}


def serve(scenario):
    """Starts the emulator on a free loopback port; returns (server, endpoint URL)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if raw.startswith(b"Action="):
                CALLS["elbv2"] = CALLS.get("elbv2", 0) + 1
                return self.query(raw.decode())
            request = json.loads(raw or b"{}")
            op = self.headers.get("X-Amz-Target", "").split(".")[-1]
            CALLS[op] = CALLS.get(op, 0) + 1
            if op == "DescribeServices" and scenario.kind == "flaky" and 2 <= CALLS[op] <= 7:
                data = json.dumps({"__type": "ServerException", "message": "emulated 500"}).encode()
                self.send_response(500)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if scenario.kind.startswith("auth-"):  # every call refused with that error code
                data = json.dumps({"__type": scenario.kind[len("auth-"):],
                                   "message": "emulated authentication failure"}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if op == "UpdateService" and scenario.kind == "update-fails":
                data = json.dumps({"__type": "ClientException",
                                   "message": "emulated: the service cannot be updated"}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if scenario.cd and op in ("ListApplications", "ListDeploymentGroups", "BatchGetDeploymentGroups",
                                      "CreateDeployment", "GetDeployment", "ListDeploymentTargets",
                                      "BatchGetDeploymentTargets", "StopDeployment"):
                with scenario.lock:
                    return self.answer(scenario.cd.handle(op, request))
            if op == "UpdateService" and scenario.cd:
                return self.error("InvalidParameterException",
                                  "emulated: a CODE_DEPLOY service's revision changes through CodeDeploy")
            if op == "UpdateService" and scenario.kind == "sd-express":
                return self.error("InvalidParameterException",
                                  "emulated: an Express service is updated with UpdateExpressGatewayService")
            if scenario.sd and op.endswith(("ServiceDeployments", "ServiceDeployment", "ServiceRevisions",
                                            "ExpressGatewayService")):
                if scenario.sd.unavailable():
                    return self.error(scenario.sd.unavailable(), "emulated: not available here")
                with scenario.lock:
                    body = scenario.sd.handle(op, request)
                if isinstance(body, tuple):
                    return self.error(*body)
                return self.answer(body)
            if op == "DescribeServices":
                if scenario.kind == "pair":
                    body = {"services": [PAIR[n].service(n) for n in request.get("services", []) if n in PAIR],
                            "failures": [{"arn": n, "reason": "MISSING"} for n in request.get("services", [])
                                         if n not in PAIR]}
                else:
                    body = {"services": [scenario.service()], "failures": []}
            elif op == "UpdateService":
                if scenario.kind == "pair":
                    name = request.get("service", "web").split("/")[-1]
                    body = PAIR[name].update(request)
                    body["service"]["serviceName"] = name
                else:
                    body = scenario.update(request)
            elif op == "DescribeTaskDefinition":
                body = task_definition(request.get("taskDefinition", NEW))
            elif op == "RegisterTaskDefinition":
                body = register(request)
            elif op == "GetAuthorizationToken":
                # An expired token (ECR's are valid 12 hours), for the client's expiry check.
                body = {"authorizationData": [{
                    "authorizationToken": "QVdTOjEyMzQ1Njc4OTAxMi1hdXRoLXRva2Vu", "expiresAt": 1420070400,
                    "proxyEndpoint": f"https://{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"}]}
            elif op == "DeregisterTaskDefinition":
                body = {"taskDefinition": {"taskDefinitionArn": request.get("taskDefinition"), "status": "INACTIVE"}}
            elif op == "RunTask":
                RUN_REQUESTS.append(request)
                if scenario.kind == "no-capacity":
                    body = {"tasks": [], "failures": [{
                        "arn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/bench",
                        "reason": "No Container Instances were found in your cluster."}]}
                else:
                    task = Task(scenario.kind, request)
                    TASKS[task.arn] = task
                    body = {"tasks": [task.describe()], "failures": []}
            elif op == "StopTask":
                task = TASKS.get(request.get("task"))
                if task is not None:
                    task.stopped_at = time.monotonic()
                body = {"task": task.describe() if task else {}}
            elif op == "GetLogEvents":
                stream = request.get("logStreamName", "")
                task = next((t for t in TASKS.values() if stream == f"ecs/api/{t.id}"), None)
                if task is None or not task.lines():
                    data = json.dumps({"__type": "ResourceNotFoundException",
                                       "message": "The specified log stream does not exist."}).encode()
                    self.send_response(400)
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                lines = task.lines()
                start = int(request.get("nextToken", "f/0").split("/")[1])
                events = [{"timestamp": int(time.time() * 1000), "message": line} for line in lines[start:]]
                body = {"events": events, "nextForwardToken": f"f/{len(lines)}", "nextBackwardToken": "b/0"}
            elif op == "ListTasks":
                body = {"taskArns": []}
            elif op == "DescribeTasks":
                found = [TASKS[a].describe() for a in request.get("tasks", []) if a in TASKS]
                body = {"tasks": found, "failures": []}
            else:
                body = {}
            self.answer(body)

        def answer(self, body):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def error(self, code, message):
            data = json.dumps({"__type": code, "message": message}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            served = {"served_successful": scenario.sd.served_successful,
                      "express_updates": scenario.sd.express_updates} if scenario.sd else {}
            if scenario.cd:
                served = {"appspecs": scenario.cd.appspecs, "stops": scenario.cd.stops}
            data = json.dumps(dict(CALLS, run_requests=RUN_REQUESTS, **served)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def query(self, form):
            if "Action=DescribeTargetHealth" in form:
                data, status = TARGET_HEALTH.encode(), 200
            elif "Action=GetCallerIdentity" in form:
                data, status = CALLER.encode(), 200
            else:
                data, status = b"<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>", 400
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


if __name__ == "__main__":
    if sys.argv[1].startswith("task") or sys.argv[1] == "no-capacity":
        AWSVPC.append(True)
    if sys.argv[1] == "pair":
        PAIR.update(web=Scenario("instant"), worker=Scenario("failing"))
    server, endpoint = serve(Scenario(sys.argv[1]))
    print(endpoint, flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin (or dies)
    server.shutdown()
