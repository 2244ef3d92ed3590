"""Two accounts x two regions in moto, for the multi-target tests: the same cluster and service `web`
in each, reached the way ecs-ship reaches them (STS AssumeRole into `arn:aws:iam::<account>:role/deploy`:
moto serves every region, and another account to assumed-role credentials).

  python targets_world.py setup MOTO_URL CLUSTER    creates them; prints {"<account>/<region>": revision}
  python targets_world.py inspect MOTO_URL CLUSTER  prints, per target, the revision service `web` runs,
                                                    its image, its awslogs-region, whether its log group exists

The task definition's awslogs-region names ap-south-1 in every target, as a task definition copied from
another region's service does: a deploy must set each target's own region.
"""

import json
import sys

import boto3

ACCOUNTS = ["123456789012", "210987654321"]
REGIONS = ["us-east-1", "eu-west-1"]


def clients(url, account, region):
    sts = boto3.client("sts", endpoint_url=url, region_name=region,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/deploy",
                            RoleSessionName="targets-world")["Credentials"]
    kw = dict(endpoint_url=url, region_name=region, aws_access_key_id=creds["AccessKeyId"],
              aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    return boto3.client("ecs", **kw), boto3.client("logs", **kw)


def setup(url, cluster):
    out = {}
    for account in ACCOUNTS:
        for region in REGIONS:
            ecs, _ = clients(url, account, region)
            td = ecs.register_task_definition(
                family=f"{cluster}-web",
                containerDefinitions=[{
                    "name": "api", "image": "busybox:stable", "memory": 128, "essential": True,
                    "logConfiguration": {"logDriver": "awslogs", "options": {
                        "awslogs-group": f"/ecs/{cluster}", "awslogs-region": "ap-south-1",
                        "awslogs-stream-prefix": "ecs"}},
                }],
            )["taskDefinition"]["taskDefinitionArn"]
            ecs.create_cluster(clusterName=cluster)
            ecs.create_service(cluster=cluster, serviceName="web", taskDefinition=td, desiredCount=1)
            out[f"{account}/{region}"] = td
    print(json.dumps(out))


def inspect(url, cluster):
    out = {}
    for account in ACCOUNTS:
        for region in REGIONS:
            ecs, logs = clients(url, account, region)
            service = ecs.describe_services(cluster=cluster, services=["web"])["services"][0]
            td = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
            container = td["containerDefinitions"][0]
            options = container.get("logConfiguration", {}).get("options", {})
            group = options.get("awslogs-group", "")
            groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] if group else []
            out[f"{account}/{region}"] = {
                "task_definition": service["taskDefinition"],
                "image": container["image"],
                "awslogs_region": options.get("awslogs-region"),
                "log_group": any(g["logGroupName"] == group for g in groups),
            }
    print(json.dumps(out))


if __name__ == "__main__":
    mode, url = sys.argv[1], sys.argv[2]
    if mode == "setup":
        setup(url, sys.argv[3])
    elif mode == "inspect":
        inspect(url, sys.argv[3])
    else:
        sys.exit(f"unknown mode {mode}")
