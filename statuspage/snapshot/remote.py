"""Publishing the snapshot to S3-compatible object storage, for a CDN to serve (issue 18).

With `SNAPSHOT_S3_BUCKET` set, every export (and every check that finds the local snapshot
current but the bucket behind) copies the snapshot into the bucket under `SNAPSHOT_S3_PREFIX`,
with boto3: AWS S3, or any S3-compatible service at `SNAPSHOT_S3_ENDPOINT_URL` (MinIO, R2,
Ceph...). Credentials and region come the standard way (`AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, an instance role...), never from our settings.

Only what changed is uploaded: the bucket holds the manifest of what it has (`.snapshot.json`,
with a SHA-256 per file, written last), and a file is uploaded when its hash differs from the
one there; files no longer in the snapshot are deleted after the new ones are up. Each object
gets its Content-Type and a short Cache-Control (the CDN asks again soon and follows the next
publish), and the object names are the snapshot's file names (`index.html`,
`history/index.html`, `api/v2/summary.json`): the CDN maps `/history` to `history/index.html`
as nginx's `try_files` does (docs/scaling.md).

A failure is logged and leaves the local snapshot as it is; the next export or check tries
again.
"""

from __future__ import annotations

import json
import logging
import mimetypes
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MANIFEST = ".snapshot.json"
PAGE_CACHE_CONTROL = "public, max-age=30"
STATIC_CACHE_CONTROL = "public, max-age=3600"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".ics": "text/calendar; charset=utf-8",
    ".svg": "image/svg+xml",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}


def content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def cache_control(name: str) -> str:
    return STATIC_CACHE_CONTROL if name.startswith("static/") else PAGE_CACHE_CONTROL


def s3_client(config: Any) -> Any:
    import boto3
    from botocore.config import Config

    endpoint = config.get("SNAPSHOT_S3_ENDPOINT_URL") or None
    # Bounded: an unreachable bucket must not hold the worker (the next export tries again).
    limits = Config(connect_timeout=3, read_timeout=20, retries={"max_attempts": 3})
    return boto3.client("s3", endpoint_url=endpoint, config=limits)


def _key(prefix: str, name: str) -> str:
    return f"{prefix.strip('/')}/{name}" if prefix.strip("/") else name


def publish_to_s3(
    config: Any, build: Path, manifest: dict[str, Any], *, client: Any = None
) -> list[str]:
    """Upload the files of `build` that the bucket does not have as they are; return their
    names (the manifest's, not counted). Raises botocore's errors."""
    from botocore.exceptions import ClientError

    bucket = str(config["SNAPSHOT_S3_BUCKET"])
    prefix = str(config.get("SNAPSHOT_S3_PREFIX") or "")
    client = client or s3_client(config)
    try:
        remote = json.loads(
            client.get_object(Bucket=bucket, Key=_key(prefix, MANIFEST))["Body"].read()
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
            raise
        remote = {}
    except ValueError:
        remote = {}
    remote_hashes: dict[str, str] = remote.get("hashes") or {}
    hashes: dict[str, str] = manifest.get("hashes") or {}
    uploaded: list[str] = []
    for name, digest in sorted(hashes.items()):
        if remote_hashes.get(name) == digest:
            continue
        client.put_object(
            Bucket=bucket,
            Key=_key(prefix, name),
            Body=(build / name).read_bytes(),
            ContentType=content_type(name),
            CacheControl=cache_control(name),
        )
        uploaded.append(name)
    gone = sorted(set(remote_hashes) - set(hashes))
    for start in range(0, len(gone), 1000):  # the most one DeleteObjects request takes
        batch = [{"Key": _key(prefix, name)} for name in gone[start : start + 1000]]
        client.delete_objects(Bucket=bucket, Delete={"Objects": batch})
    if uploaded or gone or remote.get("version") != manifest.get("version"):
        client.put_object(
            Bucket=bucket,
            Key=_key(prefix, MANIFEST),
            Body=json.dumps(manifest, indent=1).encode("utf-8"),
            ContentType="application/json",
            CacheControl="no-store",
        )
    return uploaded


def publish_remote(config: Any, build: Path, manifest: dict[str, Any] | None) -> list[str] | None:
    """Publish to the bucket when one is configured; None when not (or on failure, logged)."""
    if not config.get("SNAPSHOT_S3_BUCKET") or not manifest:
        return None
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        uploaded = publish_to_s3(config, build, manifest)
    except (BotoCoreError, ClientError, OSError) as error:
        logger.error(
            "Snapshot not published to S3 (%s); the next export tries again",
            type(error).__name__,
        )
        return None
    if uploaded:
        logger.info(
            "Snapshot of version %s published to S3: %d files uploaded",
            manifest.get("version"),
            len(uploaded),
        )
    return uploaded
