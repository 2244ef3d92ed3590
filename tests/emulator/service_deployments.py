"""Service deployments over time, for the `sd-*` scenarios of ecs_emulator.py (moto has none).

The service runs OLD (web:11) through service deployment sd-1 (SUCCESSFUL, an hour old). Each
UpdateService starts a new service deployment that plays its strategy's lifecycle stages over time
(STEP seconds each, BAKE seconds of bake time), and DescribeServices shows what the legacy view
would: for BLUE_GREEN, LINEAR and CANARY, one PRIMARY deployment with every task running as soon
as the green revision has scaled up - settled-looking long before the bake ends.

Scenarios (the strategy, then what happens):
  sd-rolling    ROLLING, SUCCESSFUL after 2 s
  sd-bluegreen  BLUE_GREEN, every stage, bake time, SUCCESSFUL
  sd-linear     LINEAR, production traffic 25/50/75/100%, bake, SUCCESSFUL
  sd-canary     CANARY, 10% then 100%, bake, SUCCESSFUL
  sd-alarm      BLUE_GREEN; 1 s into the bake, alarm web-5xx fires: ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL
  sd-breaker    ROLLING; the circuit breaker counts 1, 2, 3 failed tasks (threshold 3), then rolls back
  sd-paused     BLUE_GREEN with a PAUSE hook at POST_TEST_TRAFFIC_SHIFT, AWAITING_ACTION until
                ContinueServiceDeployment (CONTINUE goes on, ROLLBACK rolls back)
  sd-superseded ROLLING; 1.5 s after our update another deployment (web:13) replaces ours: STOPPED
  sd-unknown    the service deployment operations answer UnknownOperationException; a rolling update
                settles in the legacy view after 2 s
  sd-denied     as sd-unknown, but AccessDeniedException
  sd-express    an ECS Express Mode service (resourceManagementType ECS): UpdateService is refused,
                UpdateExpressGatewayService gives the primary container a new image and starts a
                ROLLING service deployment of the revision ECS makes (web:21, web:22, ...)
StopServiceDeployment ROLLBACK rolls the deployment in flight back, ABORT stops it where it is.
"""

import time

ACCOUNT = "123456789012"
OLD = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:11"
STEP = 0.4
SHIFT_STEP = 1.2
BAKE = 3.0
BAKE_MINUTES = 1
SERVICE = f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/c/web"

STRATEGY = {"sd-rolling": "ROLLING", "sd-bluegreen": "BLUE_GREEN", "sd-linear": "LINEAR",
            "sd-canary": "CANARY", "sd-alarm": "BLUE_GREEN", "sd-breaker": "ROLLING",
            "sd-paused": "BLUE_GREEN", "sd-superseded": "ROLLING", "sd-unknown": "ROLLING",
            "sd-denied": "ROLLING", "sd-express": "ROLLING"}
UNAVAILABLE = {"sd-unknown": "UnknownOperationException", "sd-denied": "AccessDeniedException"}

SCALE = [("PRE_SCALE_UP", 0, 0), ("SCALE_UP", 0, 0), ("POST_SCALE_UP", 0, 0)]
TEST = [("TEST_TRAFFIC_SHIFT", 0, 100), ("POST_TEST_TRAFFIC_SHIFT", 0, 100)]
SHIFTS = {
    "BLUE_GREEN": [("PRODUCTION_TRAFFIC_SHIFT", 100, 100)],
    "LINEAR": [("PRODUCTION_TRAFFIC_SHIFT", w, 100) for w in (25, 50, 75, 100)],
    "CANARY": [("PRODUCTION_TRAFFIC_SHIFT", 10, 100), ("PRODUCTION_TRAFFIC_SHIFT", 100, 100)],
}


def timeline(strategy):
    """[(stage, seconds, production %, test %)] up to SUCCESSFUL."""
    if strategy == "ROLLING":
        return [(None, 2.0, None, None)]
    # A traffic shift step lasts longer than a 1 s poll, so a poll sees each share even on a busy machine.
    stages = [(s, STEP, p, t) for s, p, t in SCALE + TEST]
    stages += [(s, SHIFT_STEP, p, t) for s, p, t in SHIFTS[strategy]]
    stages.append(("POST_PRODUCTION_TRAFFIC_SHIFT", STEP, 100, 100))
    stages.append(("BAKE_TIME", BAKE, 100, 100))
    stages.append(("CLEAN_UP", 2.5, 100, 100))  # long enough for a 1 s poll to see it
    return stages


def revision_arn(n):
    return f"arn:aws:ecs:us-east-1:{ACCOUNT}:service-revision/c/web/{n}"


class Deployment:
    def __init__(self, n, kind, target_td, source, created):
        self.n = n
        self.kind = kind
        self.arn = f"arn:aws:ecs:us-east-1:{ACCOUNT}:service-deployment/c/web/sd-{n}"
        self.target_td = target_td
        self.target = revision_arn(n)
        self.source = source  # (revision arn, task definition)
        self.created = created
        self.strategy = STRATEGY.get(kind, "ROLLING")
        self.stages = timeline(self.strategy)
        self.paused_total = 0.0
        self.paused_since = None
        self.continued = False
        self.ended = None  # (status, reason, at) once stopped, rolled back or superseded
        self.rollback_started = None
        self.rollback_reason = None
        self.alarms = []
        self.done_at = None

    def pause_at(self):
        """The offset of the PAUSE hook's stage (sd-paused), else None."""
        if self.kind != "sd-paused" or self.continued or self.target_td == OLD:
            return None
        return sum(length for stage, length, _, _ in self.stages[:self.stages.index(
            next(x for x in self.stages if x[0] == "POST_TEST_TRAFFIC_SHIFT"))]) + 0.01

    def ends_at(self):
        """When it turns SUCCESSFUL, if nothing rolls it back or pauses it."""
        return self.created + self.paused_total + sum(length for _, length, _, _ in self.stages)

    def elapsed(self, now):
        t = now - self.created - self.paused_total
        at = self.pause_at()
        if at is not None and t >= at:
            if self.paused_since is None:
                self.paused_since = self.created + self.paused_total + at
            return at
        return t

    def stage_at(self, t):
        """(index, stage, started offset) at offset t, or None past the end."""
        start = 0.0
        for i, (stage, length, _, _) in enumerate(self.stages):
            if t < start + length:
                return i, stage, start
            start += length
        return None

    def roll_back(self, now, reason):
        if self.rollback_started is None:
            self.rollback_started = now
            self.rollback_reason = reason

    def state(self, now):
        """status, stage, production %, test %, breaker count, updated_at."""
        if self.ended:
            return self.ended[0], None, None, None, self.failures(now), self.ended[2]
        if self.rollback_started is not None:
            if now - self.rollback_started < 1.0:
                return "ROLLBACK_IN_PROGRESS", None, 0, 0, self.failures(now), self.rollback_started
            return "ROLLBACK_SUCCESSFUL", None, 0, 0, self.failures(now), self.rollback_started + 1.0
        t = self.elapsed(now)
        at = self.stage_at(t)
        if self.kind == "sd-breaker" and self.failures(now) >= 3:
            self.roll_back(now, "ECS deployment circuit breaker: tasks failed to start.")
            return self.state(now)
        if at is None:
            if self.done_at is None:
                self.done_at = now
            return "SUCCESSFUL", None, 100, None, self.failures(now), self.done_at
        i, stage, started = at
        if self.kind == "sd-alarm" and stage == "BAKE_TIME" and t - started >= 1.0:
            self.alarms = ["web-5xx"]
            self.roll_back(now, "CloudWatch alarm web-5xx is in ALARM")
            return self.state(now)
        _, _, production, test = self.stages[i]
        return "IN_PROGRESS", stage, production, test, self.failures(now), self.created + started + self.paused_total

    def failures(self, now):
        if self.kind != "sd-breaker":
            return 0
        return min(3, int((now - self.created) / 0.5))

    def continue_(self, now, action):
        if self.paused_since is not None:
            self.paused_total += now - self.paused_since
            self.paused_since = None
        self.continued = True
        self.continued_at = now
        if action == "ROLLBACK":
            self.roll_back(now, "rolled back by ContinueServiceDeployment at hook h-approve")

    def stop(self, now, stop_type):
        if stop_type == "ABORT":
            self.ended = ("STOPPED", "stopped by StopServiceDeployment (ABORT)", now)
        else:
            self.roll_back(now, "rolled back by StopServiceDeployment (ROLLBACK)")

    def running_td(self, now):
        """What the legacy view shows as the PRIMARY deployment's revision."""
        return self.source[1] if self.state(now)[0].startswith("ROLLBACK") else self.target_td

    def hooks(self, now):
        if self.kind != "sd-paused" or self.target_td == OLD:
            return []
        if self.paused_since is not None:
            status = "AWAITING_ACTION"
        elif self.continued:
            status = "SUCCEEDED"
        else:
            return []
        return [{"hookId": "h-approve", "targetType": "PAUSE", "status": status,
                 "expiresAt": self.created + 3600, "timeoutAction": "ROLLBACK"}]

    def describe(self, now):
        status, stage, production, test, failed, updated = self.state(now)
        target = {"arn": self.target, "requestedTaskCount": 2, "runningTaskCount": 2 if status != "PENDING" else 0,
                  "pendingTaskCount": 0}
        if production is not None:
            target["requestedProductionTrafficWeight"] = float(production)
        if test is not None:
            target["requestedTestTrafficWeight"] = float(test)
        d = {"serviceDeploymentArn": self.arn, "serviceArn": SERVICE,
             "clusterArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/c",
             "createdAt": self.created, "startedAt": self.created, "updatedAt": updated,
             "sourceServiceRevisions": [{"arn": self.source[0], "requestedTaskCount": 2,
                                         "runningTaskCount": 2, "pendingTaskCount": 0}],
             "targetServiceRevision": target, "status": status,
             "deploymentConfiguration": {"strategy": self.strategy, "bakeTimeInMinutes": BAKE_MINUTES,
                                         "maximumPercent": 200, "minimumHealthyPercent": 100},
             "deploymentCircuitBreaker": {"status": "MONITORING", "failureCount": failed, "threshold": 3},
             "lifecycleHookDetails": self.hooks(now)}
        if stage:
            d["lifecycleStage"] = stage
        if self.alarms:
            d["alarms"] = {"status": "TRIGGERED", "alarmNames": ["web-5xx"], "triggeredAlarmNames": self.alarms}
        if self.rollback_started is not None:
            d["rollback"] = {"reason": self.rollback_reason, "startedAt": self.rollback_started,
                             "serviceRevisionArn": self.source[0]}
            d["statusReason"] = self.rollback_reason
        if self.ended:
            d["statusReason"] = self.ended[1]
            d["stoppedAt"] = self.ended[2]
        if status in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL"):
            d["finishedAt"] = updated
        return d


def express_container(image):
    return {"image": image, "containerPort": 8080,
            "awsLogsConfiguration": {"logGroup": "/aws/ecs/express/web", "logStreamPrefix": "ecs"},
            "environment": [{"name": "MODE", "value": "express"}]}


class ServiceDeployments:
    """The service `web` and its service deployments."""

    def __init__(self, kind):
        self.kind = kind
        first = Deployment(1, kind, OLD, (revision_arn(0), OLD), time.time() - 3600)
        first.done_at = first.created + 60
        self.deployments = [first]
        self.revisions = {revision_arn(0): OLD, revision_arn(1): OLD}
        self.served_successful = 0
        self.express_image = "127.0.0.1:15000/api:11"
        self.express_updates = []

    def unavailable(self):
        return UNAVAILABLE.get(self.kind)

    def current(self):
        return self.deployments[-1]

    def update(self, td):
        now = time.time()
        prev = self.current()
        source_td = prev.running_td(now)
        source_rev = prev.target if source_td == prev.target_td else prev.source[0]
        d = Deployment(len(self.deployments) + 1, self.kind, td, (source_rev, source_td), now)
        self.revisions[d.target] = td
        self.deployments.append(d)
        if self.kind == "sd-superseded" and td != OLD.replace(":11", ":13"):
            self.superseder_at = now + 1.5
        return d

    def tick(self):
        """The superseding deployment of sd-superseded, once its time has come."""
        at = getattr(self, "superseder_at", None)
        if at is not None and time.time() >= at:
            self.superseder_at = None
            ours = self.current()
            ours.ended = ("STOPPED", "the service deployment was superseded by a newer one", time.time())
            other = self.update(OLD.replace(":11", ":13"))
            other.kind = "sd-rolling"

    def legacy(self):
        """DescribeServices' deployments, as the legacy view shows the current deployment."""
        self.tick()
        now = time.time()
        d = self.current()
        status, stage = d.state(now)[:2]
        running = d.running_td(now)

        def dep(st, td, desired, run, rollout, reason=None, failed=0):
            x = {"id": f"ecs-svc/{st}-{td[-2:]}", "status": st, "taskDefinition": td, "desiredCount": desired,
                 "pendingCount": desired - run, "runningCount": run, "failedTasks": failed, "rolloutState": rollout,
                 "createdAt": d.created}
            if reason:
                x["rolloutStateReason"] = reason
            return x

        if status in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "STOPPED"):
            return [dep("PRIMARY", running, 2, 2, "COMPLETED")]
        if status.startswith("ROLLBACK"):
            return [dep("PRIMARY", d.source[1], 2, 2, "IN_PROGRESS"),
                    dep("ACTIVE", d.target_td, 0, 0, "FAILED", d.rollback_reason)]
        if d.strategy == "ROLLING":
            failed = d.failures(now)
            return [dep("PRIMARY", d.target_td, 2, 0 if failed else 1, "IN_PROGRESS", failed=failed),
                    dep("ACTIVE", d.source[1], 2, 2, "COMPLETED")]
        if stage in ("PRE_SCALE_UP", "SCALE_UP"):
            return [dep("PRIMARY", d.target_td, 2, 0, "IN_PROGRESS"), dep("ACTIVE", d.source[1], 2, 2, "COMPLETED")]
        # Blue/green after scale-up: the legacy view looks settled, bake time or not.
        return [dep("PRIMARY", d.target_td, 2, 2, "COMPLETED")]

    def express(self, now):
        return {"cluster": "c", "serviceName": "web", "serviceArn": SERVICE, "status": {"statusCode": "ACTIVE"},
                "activeConfigurations": [{
                    "serviceRevisionArn": self.current().target, "taskDefinitionArn": self.current().target_td,
                    "primaryContainer": express_container(self.express_image),
                    "ingressPaths": [{"accessType": "PUBLIC", "endpoint": "web-0a1b2c.ecs.us-east-1.on.aws"}]}]}

    def service_fields(self):
        d = self.current()
        express = {"resourceManagementType": "ECS"} if self.kind == "sd-express" else {}
        return {**express, "currentServiceDeployment": d.arn,
                "deploymentConfiguration": {"strategy": STRATEGY.get(self.kind, "ROLLING"),
                                            "bakeTimeInMinutes": BAKE_MINUTES}}

    def handle(self, op, request):
        """The answer to a service deployment operation, or None for other operations."""
        now = time.time()
        self.tick()
        if op == "DescribeExpressGatewayService":
            return {"service": self.express(now)}
        if op == "UpdateExpressGatewayService":
            container = request.get("primaryContainer") or {}
            self.express_updates.append(container)
            self.express_image = container.get("image", self.express_image)
            td = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:{20 + len(self.deployments)}"
            self.update(td)
            return {"service": {"serviceArn": SERVICE, "cluster": "c", "serviceName": "web",
                                "status": {"statusCode": "ACTIVE"},
                                "targetConfiguration": {"taskDefinitionArn": td,
                                                        "primaryContainer": container}}}
        if op == "ListServiceDeployments":
            return {"serviceDeployments": [
                {"serviceDeploymentArn": d.arn, "serviceArn": SERVICE, "createdAt": d.created,
                 "targetServiceRevisionArn": d.target, "status": d.state(now)[0]}
                for d in reversed(self.deployments)][:request.get("maxResults", 20)]}
        if op == "DescribeServiceDeployments":
            found = [d.describe(now) for d in self.deployments if d.arn in request.get("serviceDeploymentArns", [])]
            self.served_successful += sum(1 for d in found if d["status"] == "SUCCESSFUL")
            return {"serviceDeployments": found, "failures": []}
        if op == "DescribeServiceRevisions":
            return {"serviceRevisions": [
                {"serviceRevisionArn": a, "serviceArn": SERVICE, "taskDefinition": self.revisions[a], "createdAt": now}
                for a in request.get("serviceRevisionArns", []) if a in self.revisions], "failures": []}
        if op == "ContinueServiceDeployment":
            d = next((d for d in self.deployments if d.arn == request.get("serviceDeploymentArn")), None)
            hooks = d.hooks(now) if d else []
            if not hooks or hooks[0]["status"] != "AWAITING_ACTION":
                return ("InvalidParameterException", "no lifecycle hook of this service deployment awaits action")
            if request.get("hookId", "h-approve") != "h-approve":
                return ("InvalidParameterException", f"no lifecycle hook {request.get('hookId')} in this service deployment")
            d.continue_(now, request.get("action", "CONTINUE"))
            return {"serviceDeploymentArn": d.arn}
        if op == "StopServiceDeployment":
            d = next((d for d in self.deployments if d.arn == request.get("serviceDeploymentArn")), None)
            if d is None or d.state(now)[0] not in ("PENDING", "IN_PROGRESS"):
                return ("InvalidParameterException", "the service deployment is not in progress")
            d.stop(now, request.get("stopType", "ROLLBACK"))
            return {"serviceDeploymentArn": d.arn}
        return None
