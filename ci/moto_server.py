"""moto's server with two behaviours of real AWS added, for ecs-ship's tests.

moto 5.2.5's UpdateService changes `service.taskDefinition` but leaves the PRIMARY deployment on the
old revision, which no real ECS service does once a rollout completed. A deploy tool that checks the
PRIMARY deployment (as ecs-ship must, to catch rollbacks) could never succeed against it. Here an
UpdateService that changes the revision, or forces a new deployment, replaces the deployment with a new
PRIMARY one on the new revision, COMPLETED when the running count covers the desired count: the state
real ECS reaches at the end of a successful rolling update.

moto 5.2.5's ECR names an image by the sha256 of its layer digests joined together; real ECR (like
every registry) names it by the sha256 of the manifest bytes. A tool that verifies digests against the
manifest (as ecs-ship must) would always see a mismatch. Here an image without a given digest gets
the real one. Nothing else changes.
"""

import hashlib
import sys

from moto.ecr.models import Image
from moto.ecs.models import EC2ContainerServiceBackend
from moto.moto_api._internal import mock_random
from moto.core.utils import utcnow
from moto.server import main

_update_service = EC2ContainerServiceBackend.update_service


def update_service(self, service_properties):
    new_td = service_properties.get("task_definition")
    force = service_properties.get("force_new_deployment", False)
    service = _update_service(self, service_properties)
    if service.deployments and (new_td or force):
        old = service.deployments[0]
        deployment_id = f"ecs-svc/{mock_random.randint(0, 32**12)}"
        now = utcnow()
        done = service.running_count >= service.desired_count
        service.deployments = [
            dict(
                old,
                id=deployment_id,
                createdAt=now,
                updatedAt=now,
                taskDefinition=service.task_definition,
                desiredCount=service.desired_count,
                runningCount=service.running_count,
                pendingCount=max(service.desired_count - service.running_count, 0),
                rolloutState="COMPLETED" if done else "IN_PROGRESS",
                rolloutStateReason=f"ECS deployment {deployment_id} {'completed' if done else 'in progress'}.",
                status="PRIMARY",
            )
        ]
    return service


EC2ContainerServiceBackend.update_service = update_service


def _create_digest(self):
    self._image_digest = "sha256:" + hashlib.sha256(self.image_manifest.encode("utf-8")).hexdigest()


Image._create_digest = _create_digest

if __name__ == "__main__":
    sys.exit(main())
