"""CodeDeploy blue/green deployments of an ECS service, for the `cd-*` scenarios of ecs_emulator.py.

The service `web` of cluster `c` has the CODE_DEPLOY deployment controller; application `web-app` and
deployment group `web-dg` deploy it. CreateDeployment (its AppSpec is kept for GET /calls) starts a
deployment whose ECS target walks the lifecycle events, STEP seconds each:
  cd-ok        every event Succeeded, then the deployment Succeeded
  cd-hook-fails AfterAllowTestTraffic Failed (ScriptFailed, with a log tail): the deployment Failed and
               was rolled back by deployment d-EMU2
  cd-slow      stays InProgress at AllowTestTraffic until StopDeployment (then Stopped, rolled back)
"""

import time

STEP = 0.4
EVENTS = ["BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic",
          "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]


class CodeDeploy:
    def __init__(self, kind):
        self.kind = kind
        self.started = None
        self.stopped = None
        self.appspecs = []
        self.stops = []

    def offset(self):
        return (self.stopped or time.time()) - self.started

    def events(self):
        t = self.offset()
        out = []
        for i, name in enumerate(EVENTS):
            start = i * STEP
            status = "Pending"
            if t >= start:
                status = "InProgress"
            if t >= start + STEP:
                status = "Succeeded"
            if self.kind == "cd-slow" and name == "AllowTestTraffic" and t >= start:
                status = "InProgress"
            event = {"lifecycleEventName": name, "status": status}
            if self.kind == "cd-hook-fails" and name == "AfterAllowTestTraffic" and status == "Succeeded":
                event["status"] = "Failed"
                event["diagnostics"] = {"errorCode": "ScriptFailed", "scriptName": "smoke",
                                        "message": "smoke test returned 500", "logTail": "GET /health 500"}
            out.append(event)
            if event["status"] == "Failed" or (self.kind == "cd-slow" and name == "AllowTestTraffic"):
                out.extend({"lifecycleEventName": n, "status": "Pending"} for n in EVENTS[i + 1:])
                break
        if self.stopped:
            out = [dict(e, status="Skipped") if e["status"] in ("Pending", "InProgress") else e for e in out]
        return out

    def status(self):
        if self.stopped:
            return "Stopped"
        events = self.events()
        if any(e["status"] == "Failed" for e in events):
            return "Failed"
        if all(e["status"] == "Succeeded" for e in events):
            return "Succeeded"
        return "InProgress" if self.offset() > 0.3 else "Created"

    def info(self):
        info = {"applicationName": "web-app", "deploymentGroupName": "web-dg", "deploymentId": "d-EMU1",
                "status": self.status(), "computePlatform": "ECS"}
        if self.status() == "Failed":
            info["errorInformation"] = {"code": "HOOK_EXECUTION_FAILURE",
                                        "message": "lifecycle event AfterAllowTestTraffic failed"}
            info["rollbackInfo"] = {"rollbackDeploymentId": "d-EMU2", "rollbackMessage": "automatic rollback"}
        if self.status() == "Stopped":
            info["errorInformation"] = {"code": "MANUAL_STOP", "message": "stopped by StopDeployment"}
            info["rollbackInfo"] = {"rollbackDeploymentId": "d-EMU2", "rollbackMessage": "rolled back on stop"}
        return info

    def handle(self, op, request):
        if op == "ListApplications":
            return {"applications": ["other-app", "web-app"]}
        if op == "ListDeploymentGroups":
            app = request.get("applicationName")
            return {"applicationName": app, "deploymentGroups": ["web-dg"] if app == "web-app" else ["other-dg"]}
        if op == "BatchGetDeploymentGroups":
            app = request.get("applicationName")
            service = "web" if app == "web-app" else "other"
            return {"deploymentGroupsInfo": [{"applicationName": app, "deploymentGroupName": n,
                                              "ecsServices": [{"serviceName": service, "clusterName": "c"}]}
                                             for n in request.get("deploymentGroupNames", [])]}
        if op == "CreateDeployment":
            self.appspecs.append(request)
            self.started = time.time()
            return {"deploymentId": "d-EMU1"}
        if op == "GetDeployment":
            return {"deploymentInfo": self.info()}
        if op == "ListDeploymentTargets":
            return {"targetIds": ["c:web"]}
        if op == "BatchGetDeploymentTargets":
            return {"deploymentTargets": [{"deploymentTargetType": "ECSTarget", "ecsTarget": {
                "deploymentId": "d-EMU1", "targetId": "c:web", "status": self.status(),
                "lifecycleEvents": self.events()}}]}
        if op == "StopDeployment":
            self.stops.append(request)
            self.stopped = time.time()
            return {"status": "Succeeded", "statusMessage": "stopped"}
        return None
