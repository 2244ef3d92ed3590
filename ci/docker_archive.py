"""Writes a one-layer image as a `docker load` archive on stdout, for ci/stack.

    docker_archive.py ROOTFS TAG ARCH | docker load

The config names ARCH (and linux), which `docker import` cannot set on Docker 20.10, so a base image
for another platform (arm64 busybox) can be made from a directory without pulling anything.
"""

import hashlib
import io
import json
import sys
import tarfile


def main() -> None:
    root, tag, arch = sys.argv[1], sys.argv[2], sys.argv[3]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as layer:
        layer.add(root, arcname=".")
    layer_bytes = buf.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    config = json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created_by": "ci/stack: busybox-static"}],
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps(
        [{"Config": config_name, "RepoTags": [tag], "Layers": ["layer/layer.tar"]}]
    ).encode()
    with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as out:
        for name, data in [
            (config_name, config),
            ("layer/layer.tar", layer_bytes),
            ("manifest.json", manifest),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    main()
