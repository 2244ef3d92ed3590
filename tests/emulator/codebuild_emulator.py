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


class Build:
    def __init__(self, scenario, project, source_version, env):
        self.scenario = scenario
        self.project = project
        self.id = f"{project}:0b4d1c2e-aaaa-bbbb-cccc-{int(time.time() * 1000) % 10**12:012d}"
        self.start = time.time()
        self.source_version = source_version or "refs/heads/main"
        self.env = env
        self.stopped_at = None

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


def serve(scenario):
    builds = {}
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
