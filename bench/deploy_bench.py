"""The deploy step at its API floor: ecs-ship `deploy`, that team's script (aws CLI + jq + sed +
`aws ecs wait services-stable`) and the floor (the same ECS calls back to back in one process, boto3),
each against a fresh copy of the scripted ECS of tests/emulator ("instant": the service runs web:11 and
an UpdateService completes at once), in one run. Prints the median of N runs, the calls each made, and
the ratios to the floor.

    ci/stack up && cargo build --release
    /var/tmp/ecs-ship-stack/venv/bin/python bench/deploy_bench.py target/release/ecs-ship [RUNS]

The aws CLI is installed into its own venv (/var/tmp/ecs-ship-bench-venv) on first use; jq from
Debian's packages when missing.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "emulator"))
import ecs_emulator  # noqa: E402

import boto3  # noqa: E402

BENCH_VENV = "/var/tmp/ecs-ship-bench-venv"
IMAGE = "127.0.0.1:15000/api@sha256:" + "ab" * 32
ENV = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
           AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
           NO_COLOR="1", AWS_PAGER="")


def aws_cli():
    aws = os.path.join(BENCH_VENV, "bin", "aws")
    if not os.path.exists(aws):
        subprocess.run([sys.executable, "-m", "venv", BENCH_VENV], check=True)
        subprocess.run([os.path.join(BENCH_VENV, "bin", "pip"), "install", "-q", "awscli"], check=True)
    if not shutil.which("jq"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "jq"], check=True, stdout=subprocess.DEVNULL)
    return aws


def fresh():
    """A new emulator: its own service state and call counts."""
    ecs_emulator.CALLS.clear()
    ecs_emulator.REVISIONS.clear()
    server, endpoint = ecs_emulator.serve(ecs_emulator.Scenario("instant"))
    return server, endpoint


def calls(endpoint):
    with urllib.request.urlopen(endpoint + "/calls") as r:
        counts = {op: n for op, n in json.load(r).items() if isinstance(n, int)}
    return sum(counts.values()), counts


def ecs_ship(binary, endpoint):
    subprocess.run([binary, "--endpoint-url", endpoint, "-q", "deploy", "--cluster", "c", "--service", "web",
                    "--image", f"api={IMAGE}"], env=ENV, check=True, stdout=subprocess.DEVNULL)


SEED = r"""
set -euo pipefail
TD=$(aws ecs describe-services --cluster c --services web --query 'services[0].taskDefinition' --output text)
aws ecs describe-task-definition --task-definition "$TD" \
  | jq '.taskDefinition | del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities, .registeredAt, .registeredBy)' > td.json
sed -i "s|\"image\": \"[^\"]*\"|\"image\": \"$IMAGE\"|" td.json
NEW=$(aws ecs register-task-definition --cli-input-json file://td.json --query 'taskDefinition.taskDefinitionArn' --output text)
aws ecs update-service --cluster c --service web --task-definition "$NEW" > /dev/null
aws ecs wait services-stable --cluster c --services web
"""


def seed(aws, endpoint):
    with tempfile.TemporaryDirectory() as d:
        env = dict(ENV, AWS_ENDPOINT_URL=endpoint, IMAGE=IMAGE,
                   PATH=os.path.dirname(aws) + os.pathsep + ENV["PATH"])
        subprocess.run(["bash", "-c", SEED], env=env, cwd=d, check=True)


def floor(endpoint):
    """The calls a deploy needs, back to back in one process (clients made before the clock starts)."""
    ecs = boto3.client("ecs", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    logs = boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")
    start = time.perf_counter()
    arn = ecs.describe_services(cluster="c", services=["web"])["services"][0]["taskDefinition"]
    td = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])["taskDefinition"]
    for k in ["taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
              "registeredAt", "registeredBy"]:
        td.pop(k, None)
    td["containerDefinitions"][0]["image"] = IMAGE
    logs.create_log_group(logGroupName="/ecs/web")
    new = ecs.register_task_definition(**td)["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="c", service="web", taskDefinition=new)
    ecs.describe_services(cluster="c", services=["web"])
    return time.perf_counter() - start


def measure(name, run, runs):
    times, counted = [], None
    for _ in range(runs):
        server, endpoint = fresh()
        try:
            start = time.perf_counter()
            took = run(endpoint)
            times.append(took if isinstance(took, float) else time.perf_counter() - start)
            counted = calls(endpoint)
        finally:
            server.shutdown()
    return name, statistics.median(times), counted


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/ecs-ship"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    aws = aws_cli()
    rows = [
        measure("floor: the same calls in one process (boto3)", floor, runs),
        measure("ecs-ship deploy", lambda e: ecs_ship(binary, e), runs),
        measure("seed script: aws CLI + jq + sed + wait", lambda e: seed(aws, e), runs),
    ]
    base = rows[0][1]
    print(f"scripted ECS on loopback, service stable at once after UpdateService; median of {runs} runs")
    print(f"{'deploy step':<48} {'seconds':>8} {'calls':>6} {'x floor':>8}  calls made")
    for name, seconds, (total, counts) in rows:
        made = ", ".join(f"{op} {n}" for op, n in sorted(counts.items()))
        print(f"{name:<48} {seconds:>8.3f} {total:>6} {seconds / base:>8.2f}  {made}")


if __name__ == "__main__":
    main()
