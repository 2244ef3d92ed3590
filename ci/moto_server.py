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
the real one.

moto's ECR keeps its own image list and is no registry. In the stack, an ECR-named registry
(`<account>.dkr.ecr.<region>.amazonaws.com`, see ci/stack) stands beside it: here DescribeImages and
BatchGetImage first read that registry's tags and manifests into moto (PutImage), so what the engine
pushed appears in ECR with its true digest, as with real ECR. And moto's GetAuthorizationToken says the
token expired in 2015; here it expires 12 hours from now, as ECR's do. Nothing else changes.
"""

import base64
import hashlib
import json
import os
import ssl
import sys
import urllib.request
from datetime import datetime, timedelta, timezone

from moto.core.responses import ActionResult
from moto.ecr.models import ECRBackend, Image
from moto.ecr.responses import ECRResponse
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

MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])


def _registry_get(host, account, path, accept=None):
    """GET https://host/v2/path with the account's ECR credentials and the stack's CA."""
    ca = os.environ.get("ECS_SHIP_ECR_CA")
    if not ca or not os.path.exists(ca):
        return None
    auth = base64.b64encode(f"AWS:{account}-auth-token".encode()).decode()
    request = urllib.request.Request(f"https://{host}/v2/{path}", headers={"Authorization": f"Basic {auth}"})
    if accept:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=ca), timeout=5) as r:
            return r.read(), r.headers.get("Content-Type")
    except Exception:
        return None


def _sync_from_registry(backend, repository_name):
    """Puts every tag the ECR-named registry holds for the repository into moto's ECR."""
    repository = backend.repositories.get(repository_name)
    if repository is None:
        return
    host = f"{repository.registry_id}.dkr.ecr.{backend.region_name}.amazonaws.com"
    listed = _registry_get(host, repository.registry_id, f"{repository_name}/tags/list")
    if not listed:
        return
    for tag in json.loads(listed[0]).get("tags") or []:
        got = _registry_get(host, repository.registry_id, f"{repository_name}/manifests/{tag}", MANIFEST_TYPES)
        if not got:
            continue
        manifest, media_type = got[0].decode("utf-8"), got[1]
        if any(i.image_manifest == manifest and tag in i.image_tags for i in repository.images):
            continue
        try:
            backend.put_image(repository_name, manifest, tag, media_type)
        except Exception:
            pass


_describe_images = ECRBackend.describe_images
_batch_get_image = ECRBackend.batch_get_image


def describe_images(self, repository_name, registry_id=None, image_ids=None):
    _sync_from_registry(self, repository_name)
    return _describe_images(self, repository_name, registry_id, image_ids)


def batch_get_image(self, repository_name, registry_id=None, image_ids=None):
    _sync_from_registry(self, repository_name)
    return _batch_get_image(self, repository_name, registry_id, image_ids)


ECRBackend.describe_images = describe_images
ECRBackend.batch_get_image = batch_get_image


def get_authorization_token(self):
    registry_ids = self._get_param("registryIds") or [self.current_account]
    expires = datetime.now(timezone.utc) + timedelta(hours=12)
    return ActionResult({"authorizationData": [
        {"authorizationToken": base64.b64encode(f"AWS:{r}-auth-token".encode()).decode(),
         "expiresAt": expires,
         "proxyEndpoint": f"https://{r}.dkr.ecr.{self.region}.amazonaws.com"}
        for r in registry_ids]})


ECRResponse.get_authorization_token = get_authorization_token

if __name__ == "__main__":
    sys.exit(main())
