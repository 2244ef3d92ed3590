"""Creates a CodeBuild project in moto, as `aws codebuild create-project` would, for `codebuild check`.

Usage: python codebuild_project.py ENDPOINT NAME KIND
  inline        the buildspec is INLINE in the project (the trap: the repository's file is ignored)
  unprivileged  the repository's buildspec.yml, privileged mode off
  healthy       the repository's buildspec.yml, privileged mode on, CloudWatch Logs to a named group
"""

import sys

import boto3

INLINE = """version: 0.2
phases:
  build:
    commands:
      - echo "built from the console's copy"
"""


def main():
    endpoint, name, kind = sys.argv[1:4]
    codebuild = boto3.client("codebuild", endpoint_url=endpoint, region_name="us-east-1",
                             aws_access_key_id="testing", aws_secret_access_key="testing")
    source = {"type": "GITHUB", "location": "https://github.com/example/vendor0919-api.git"}
    if kind == "inline":
        source["buildspec"] = INLINE
    codebuild.create_project(
        name=name,
        source=source,
        sourceVersion="main",
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                     "computeType": "BUILD_GENERAL1_SMALL", "privilegedMode": kind != "unprivileged"},
        serviceRole="arn:aws:iam::123456789012:role/service-role/codebuild-release",
        logsConfig={"cloudWatchLogs": {"status": "ENABLED", "groupName": f"/ci/{name}"}},
    )
    print(name)


if __name__ == "__main__":
    main()
