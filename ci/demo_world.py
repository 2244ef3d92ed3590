"""Puts the example's world into the local AWS emulator (moto): the cluster, the service running a
first revision of examples/vendor0919-api/taskdef.json (as that team's service ran for ten revisions:
no logConfiguration), as `aws ecs create-cluster / register-task-definition / create-service` would.

Usage: python ci/demo_world.py ENDPOINT CLUSTER SERVICE TASKDEF_JSON
Idempotent: an existing ACTIVE service is left as it is, so a second demo run starts where the first ended.
"""

import json
import sys

import boto3


def main():
    endpoint, cluster, service, path = sys.argv[1:5]
    ecs = boto3.client("ecs", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    ecs.create_cluster(clusterName=cluster)
    found = ecs.describe_services(cluster=cluster, services=[service])["services"]
    if any(s["status"] == "ACTIVE" for s in found):
        print(f"world: service {service} in {cluster} exists, runs {found[0]['taskDefinition']}")
        return
    with open(path) as f:
        document = json.load(f)
    arn = ecs.register_task_definition(**document)["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=cluster, serviceName=service, taskDefinition=arn, desiredCount=1,
                       launchType="FARGATE")
    print(f"world: cluster {cluster}, service {service} on {arn}")


if __name__ == "__main__":
    main()
