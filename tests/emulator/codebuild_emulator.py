"""A scripted CodeBuild (and the CloudWatch Logs of its builds) for what moto cannot do: moto's builds
complete every phase at once, log nothing and never fail. Here a build moves through its phases over
time, writes log lines as it goes, and ends as the scenario says.

It answers StartBuild, BatchGetBuilds and StopBuild (CodeBuild_20161006) and GetLogEvents
(Logs_20140328) over awsJson1.1 on 127.0.0.1; GET /calls shows how often each was called.
`python codebuild_emulator.py SCENARIO` prints its endpoint URL, then serves until stdin closes.

Scenarios:
  succeed   each phase takes STEP seconds; every phase SUCCEEDED, the build SUCCEEDED
  fail      as `succeed` until BUILD, which FAILED with a COMMAND_EXECUTION_ERROR context; POST_BUILD
            and the rest still run, the build FAILED
  timeout   CodeBuild's own timeout: BUILD ends TIMED_OUT, the build TIMED_OUT
  hang      the build stays IN_PROGRESS in BUILD for ever (for --timeout and interrupts); StopBuild
            stops it

Batch builds (StartBuildBatch, BatchGetBuildBatches, StopBuildBatch): a build graph of three legs, as
buildspec-batch.yml has them - `build_amd64` and `build_arm64` at once, then `merge_release`, which
depends on both and starts once both SUCCEEDED. Each leg is a build as above (BatchGetBuilds and
GetLogEvents serve it).
  batch-succeed  every leg succeeds, the batch SUCCEEDED
  batch-fail     `build_arm64` fails in BUILD; `merge_release` never starts; the batch FAILED
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT = "123456789012"
STEP = 0.4
PHASES = ["SUBMITTED", "QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD",
          "POST_BUILD", "UPLOAD_ARTIFACTS", "FINALIZING", "COMPLETED"]
LOG_LINES = {
    "INSTALL": ["[Container] Entering phase INSTALL", "[Container] Running command cargo --version"],
    "PRE_BUILD": ["[Container] Entering phase PRE_BUILD", "[Container] Running command ecs-ship doctor"],
    "BUILD": ["[Container] Entering phase BUILD",
              "[Container] Running command ecs-ship release --context . --cluster c --service s --container api",
              "step build      done        3.1s"],
    "POST_BUILD": ["[Container] Entering phase POST_BUILD"],
}
FAILED_LINE = "error: the rollout failed: service s rolled back to web:11"
CALLS = {}


SERIAL = [0]


class Build:
    def __init__(self, scenario, project, source_version, env):
        self.scenario = scenario
        self.project = project
        SERIAL[0] += 1
        self.id = f"{project}:0b4d1c2e-aaaa-bbbb-{SERIAL[0]:04d}-{int(time.time() * 1000) % 10**12:012d}"
        self.start = time.time()
        self.source_version = source_version or "refs/heads/main"
        self.env = env
        self.stopped_at = None
        self.buildspec_override = None

    def elapsed_phases(self):
        """How many phases have ended by now."""
        if self.stopped_at is not None:
            return None
        return int((time.time() - self.start) / STEP)

    def describe(self):
        done = self.elapsed_phases()
        phases, status, current = [], "IN_PROGRESS", None
        for i, name in enumerate(PHASES):
            t0 = self.start + i * STEP
            if self.stopped_at is not None:
                ended = t0 + STEP <= self.stopped_at
            else:
                ended = i < done
            if self.scenario == "hang" and name == "BUILD" and self.stopped_at is None:
                ended = False
            if not ended:
                if self.stopped_at is not None:
                    phases.append({"phaseType": name, "phaseStatus": "STOPPED", "startTime": t0,
                                   "endTime": self.stopped_at, "durationInSeconds": 0})
                    status, current = "STOPPED", "COMPLETED"
                    break
                phases.append({"phaseType": name, "startTime": t0})
                current = name
                break
            phase_status = "SUCCEEDED"
            contexts = []
            if name == "BUILD" and self.scenario == "fail":
                phase_status = "FAILED"
                contexts = [{"statusCode": "COMMAND_EXECUTION_ERROR",
                             "message": "Error while executing command: ecs-ship release --context . "
                                        "--cluster c --service s --container api. Reason: exit status 4"}]
            if name == "BUILD" and self.scenario == "timeout":
                phase_status = "TIMED_OUT"
            phases.append({"phaseType": name, "phaseStatus": phase_status, "startTime": t0,
                           "endTime": t0 + STEP, "durationInSeconds": 1, "contexts": contexts})
            if name == "COMPLETED" or (name == "BUILD" and self.scenario == "timeout"):
                status = {"succeed": "SUCCEEDED", "fail": "FAILED", "timeout": "TIMED_OUT"}[self.scenario]
                current = "COMPLETED"
                break
        build = {
            "id": self.id, "arn": f"arn:aws:codebuild:us-east-1:{ACCOUNT}:build/{self.id}", "buildNumber": 7,
            "projectName": self.project, "startTime": self.start, "currentPhase": current or "COMPLETED",
            "buildStatus": status, "sourceVersion": self.source_version, "phases": phases,
            "buildComplete": status != "IN_PROGRESS", "timeoutInMinutes": 60, "queuedTimeoutInMinutes": 480,
            "environment": {"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                            "computeType": "BUILD_GENERAL1_SMALL", "privilegedMode": True,
                            "environmentVariables": [{"name": k, "value": v, "type": "PLAINTEXT"}
                                                     for k, v in self.env.items()]},
            "logs": {"groupName": f"/aws/codebuild/{self.project}", "streamName": self.id.split(":")[1],
                     "deepLink": "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1"},
        }
        if status != "IN_PROGRESS":
            build["endTime"] = self.start + len(phases) * STEP
        if status == "SUCCEEDED":
            build["exportedEnvironmentVariables"] = [
                {"name": "ECS_SHIP_IMAGE", "value": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/api@sha256:" + "ab" * 32}]
        return build

    def log_lines(self):
        """The lines written by the phases that have started."""
        lines = []
        for phase in self.describe()["phases"]:
            lines += LOG_LINES.get(phase["phaseType"], [])
            if phase["phaseType"] == "BUILD" and phase.get("phaseStatus") == "FAILED":
                lines.append(FAILED_LINE)
        return lines


LEGS = [("build_amd64", []), ("build_arm64", []), ("merge_release", ["build_amd64", "build_arm64"])]


class Batch:
    """A build graph: each leg a Build, started once the legs it depends on SUCCEEDED."""

    def __init__(self, scenario, project, source_version, env, builds):
        self.scenario = scenario
        self.project = project
        SERIAL[0] += 1
        self.id = f"{project}:ba7c4000-aaaa-bbbb-{SERIAL[0]:04d}-{int(time.time() * 1000) % 10**12:012d}"
        self.source_version = source_version or "refs/heads/main"
        self.env = env
        self.builds = builds
        self.legs = {}
        self.stopped = False
        self.start = time.time()

    def leg_scenario(self, name):
        return "fail" if self.scenario == "batch-fail" and name == "build_arm64" else "succeed"

    def advance(self):
        """Starts the legs whose dependencies all SUCCEEDED."""
        for name, deps in LEGS:
            if name in self.legs or self.stopped:
                continue
            states = [self.legs[d].describe()["buildStatus"] if d in self.legs else None for d in deps]
            if all(s == "SUCCEEDED" for s in states):
                build = Build(self.leg_scenario(name), self.project, self.source_version, self.env)
                self.builds[build.id] = build
                self.legs[name] = build

    def describe(self):
        self.advance()
        groups, statuses = [], {}
        for name, deps in LEGS:
            group = {"identifier": name, "dependsOn": deps, "ignoreFailure": False}
            build = self.legs.get(name)
            if build is not None:
                status = build.describe()["buildStatus"]
                statuses[name] = status
                group["currentBuildSummary"] = {
                    "arn": f"arn:aws:codebuild:us-east-1:{ACCOUNT}:build/{build.id}",
                    "requestedOn": build.start, "buildStatus": status}
            groups.append(group)
        running = any(s == "IN_PROGRESS" for s in statuses.values())
        failed = any(s in ("FAILED", "FAULT", "TIMED_OUT") for s in statuses.values())
        if self.stopped:
            status = "STOPPED"
        elif running or (not failed and len(statuses) < len(LEGS)):
            status = "IN_PROGRESS"
        else:
            status = "FAILED" if failed else "SUCCEEDED"
        return {"id": self.id, "arn": f"arn:aws:codebuild:us-east-1:{ACCOUNT}:build-batch/{self.id}",
                "projectName": self.project, "startTime": self.start, "buildBatchStatus": status,
                "currentPhase": "SUCCEEDED" if status == "SUCCEEDED" else "IN_PROGRESS" if status == "IN_PROGRESS" else "FAILED",
                "sourceVersion": self.source_version, "complete": status != "IN_PROGRESS",
                "buildGroups": groups}


def serve(scenario):
    builds = {}
    batches = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            request = json.loads(raw or b"{}")
            op = self.headers.get("X-Amz-Target", "").split(".")[-1]
            with lock:
                CALLS[op] = CALLS.get(op, 0) + 1
                if op == "StartBuild":
                    env = {v["name"]: v.get("value", "") for v in request.get("environmentVariablesOverride", [])}
                    build = Build(scenario, request["projectName"], request.get("sourceVersion"), env)
                    build.buildspec_override = request.get("buildspecOverride")
                    builds[build.id] = build
                    return self.answer(200, {"build": build.describe()})
                if op == "StartBuildBatch":
                    env = {v["name"]: v.get("value", "") for v in request.get("environmentVariablesOverride", [])}
                    batch = Batch(scenario, request["projectName"], request.get("sourceVersion"), env, builds)
                    batches[batch.id] = batch
                    return self.answer(200, {"buildBatch": batch.describe()})
                if op == "BatchGetBuildBatches":
                    found = [batches[i].describe() for i in request.get("ids", []) if i in batches]
                    missing = [i for i in request.get("ids", []) if i not in batches]
                    return self.answer(200, {"buildBatches": found, "buildBatchesNotFound": missing})
                if op == "StopBuildBatch":
                    batch = batches.get(request.get("id"))
                    if batch is None:
                        return self.answer(400, {"__type": "ResourceNotFoundException", "message": "no such batch"})
                    batch.stopped = True
                    for build in batch.legs.values():
                        if build.describe()["buildStatus"] == "IN_PROGRESS":
                            build.stopped_at = time.time()
                    return self.answer(200, {"buildBatch": batch.describe()})
                if op == "BatchGetBuilds":
                    found = [builds[i].describe() for i in request.get("ids", []) if i in builds]
                    missing = [i for i in request.get("ids", []) if i not in builds]
                    return self.answer(200, {"builds": found, "buildsNotFound": missing})
                if op == "StopBuild":
                    build = builds.get(request.get("id"))
                    if build is None:
                        return self.answer(400, {"__type": "ResourceNotFoundException", "message": "no such build"})
                    build.stopped_at = time.time()
                    return self.answer(200, {"build": build.describe()})
                if op == "GetLogEvents":
                    stream = request.get("logStreamName", "")
                    build = next((b for b in builds.values() if b.id.endswith(":" + stream)), None)
                    if build is None:
                        return self.answer(400, {"__type": "ResourceNotFoundException",
                                                 "message": "The specified log stream does not exist."})
                    lines = build.log_lines()
                    start = int(request.get("nextToken", "f/0").split("/")[1])
                    page = lines[start:start + 2]  # small pages, to exercise paging
                    events = [{"timestamp": int(time.time() * 1000), "message": line + "\n",
                               "ingestionTime": int(time.time() * 1000)} for line in page]
                    token = f"f/{start + len(page)}"
                    return self.answer(200, {"events": events, "nextForwardToken": token,
                                             "nextBackwardToken": "b/0"})
            return self.answer(400, {"__type": "UnknownOperationException", "message": op})

        def do_GET(self):
            with lock:
                body = dict(CALLS)
                body["overrides"] = {b.id: {"env": b.env, "sourceVersion": b.source_version,
                                            "buildspec": b.buildspec_override} for b in builds.values()}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


if __name__ == "__main__":
    server, endpoint = serve(sys.argv[1])
    print(endpoint, flush=True)
    sys.stdin.read()
    server.shutdown()
