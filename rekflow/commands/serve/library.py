"""Where the page's hits, documents and media come from: a results folder, or a deployed stack.

Media are only ever found from what the library knows: offline, a key the index holds, whose file
`rekflow analyze` recorded (sources.jsonl) and still has the size the document says; on a stack, the object
version the document names, by a presigned URL. No path in a request is ever joined to a folder.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

from rekflow.commands import results_folder
from rekflow.media import sources as media_sources
from rekflow.search.documents import document_path, is_results_document, read_video_results
from rekflow.search.engine import Page
from rekflow.search.facts import Asset, VideoResults
from rekflow.search.query import Node, Term

# Analysed media that get a thumbnail (as the report: a rejected file may be anything, truncated or a pixel bomb).
PREVIEWED_STATUSES = ("SUCCEEDED", "PARTIAL")
# What a browser shows as it is (a HEIC photo needs a converted thumbnail; on a stack there is none).
BROWSER_IMAGES = ("JPEG", "PNG", "GIF", "WEBP")
PRESIGNED_SECONDS = 3600  # how long a presigned media URL stays valid
KEPT_DOCUMENTS = 1000  # a stack's documents kept at most (the last pages' hits)


class Library(Protocol):
    where: str  # "results folder DIR" or "stack NAME", for the page's heading

    def search(self, tree: Node, limit: int, sort: str) -> Page: ...

    def document(self, asset: Asset) -> dict[str, Any] | None:
        """The results document the asset's facts were read from (its boxes are drawn from it)."""
        ...

    def video_results(self, document: dict[str, Any]) -> VideoResults | None:
        """A video's feature results (every frame's boxes), by feature; None where none were kept."""
        ...

    def thumbnail_url(self, asset: Asset, at_seconds: float | None) -> str | None: ...

    def media_url(self, asset: Asset) -> str | None: ...


@dataclass(frozen=True)
class MediaFile:
    path: Path
    asset: Asset
    document: dict[str, Any]


class FolderLibrary:
    """A results folder: its SQLite index (shared by the server's threads: SearchIndex locks), its documents and
    the files analysed into it."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self.where = f"results folder {output}"
        self.index = results_folder.open_index(output)  # made once from the documents when there is none
        self._recorded: tuple[tuple[int, int], dict[str, Path]] | None = None
        self._recorded_lock = threading.Lock()

    def search(self, tree: Node, limit: int, sort: str) -> Page:
        return self.index.search(tree, limit, sort)

    def document(self, asset: Asset) -> dict[str, Any] | None:
        path = document_path(self.output, asset.key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        if not is_results_document(data) or data["assetId"] != asset.asset_id:
            return None  # replaced since the index answered
        return dict(data)

    def video_results(self, document: dict[str, Any]) -> VideoResults | None:
        return read_video_results(self.output, document)

    def thumbnail_url(self, asset: Asset, at_seconds: float | None) -> str | None:
        if asset.kind not in ("image", "video") or asset.status not in PREVIEWED_STATUSES:
            return None
        query = {"key": asset.key, "asset": asset.asset_id}
        if asset.kind == "video":
            query["at"] = f"{at_seconds or 0.0:g}"
        return "/thumbnail?" + urlencode(query)

    def media_url(self, asset: Asset) -> str | None:
        if asset.kind not in ("image", "video"):
            return None
        return "/media?" + urlencode({"key": asset.key, "asset": asset.asset_id})

    def known_file(self, key: str, asset_id: str) -> MediaFile | None:
        """The analysed file of `key` when the index holds that key at that asset id (its version), its file is
        recorded and still has the size its document says; else None."""
        # path: is a key prefix; a key sorts before every longer key it begins (A to Z), so it comes first.
        page = self.index.search(Term("path", "=", key), 1, "path")
        if not page.hits or page.hits[0].asset.key != key or page.hits[0].asset.asset_id != asset_id:
            return None
        asset = page.hits[0].asset
        document = self.document(asset)
        path = self._sources().get(key)
        if document is None or path is None or not path.is_file():
            return None
        if path.stat().st_size != document["object"]["size"]:
            return None  # changed since it was analysed: not the file the boxes describe
        return MediaFile(path, asset, document)

    def _sources(self) -> dict[str, Path]:
        """key -> analysed file (media_sources), read again only when analyze has rewritten it: a page of
        thumbnails asks for it once per image, and the file holds a line per key analysed."""
        try:
            stat = (self.output / media_sources.INDEX_NAME).stat()
        except FileNotFoundError:
            return {}
        version = (stat.st_mtime_ns, stat.st_size)
        with self._recorded_lock:
            if self._recorded is None or self._recorded[0] != version:
                self._recorded = (version, media_sources.read(self.output))
            return self._recorded[1]

    def thumbnail(self, found: MediaFile, at_seconds: float) -> bytes:
        """A JPEG preview (a photo upright as its boxes are; a video's frame at `at_seconds`)."""
        stat = found.path.stat()
        return _thumbnail(found.path, stat.st_mtime_ns, found.asset.format, found.asset.kind, at_seconds)


@functools.lru_cache(maxsize=512)
def _thumbnail(path: Path, mtime_ns: int, image_format: str, kind: str, at_seconds: float) -> bytes:
    from rekflow.media.thumbnails import image_preview, video_poster  # Pillow, ffmpeg: only when one is shown

    preview = image_preview(path.read_bytes(), image_format) if kind == "image" else video_poster(path, at_seconds)
    return base64.b64decode(preview.uri.partition(",")[2])


class StackLibrary:
    """A deployed stack: the query runs in Athena (rekflow.search.athena, through the engine seam), media are
    read by presigned GetObject URLs signed with the user's own credentials, so the browser fetches them from
    S3 directly and IAM decides. A URL is valid for ExpiresIn seconds, and no longer than the temporary credentials
    that signed it (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html#PresignedUrl-Expiration)."""

    def __init__(self, stack: str, engine: Any, s3: Any) -> None:
        self.stack = stack
        self.where = f"stack {stack}"
        self.engine = engine  # a DocumentKeepingEngine
        self.s3 = s3

    @classmethod
    def for_stack(cls, stack: str) -> StackLibrary:
        import boto3

        session = boto3.session.Session()
        engine = keeping_engine().for_stack(stack, session)
        return cls(stack, engine, session.client("s3"))

    def search(self, tree: Node, limit: int, sort: str) -> Page:
        page: Page = self.engine.search(tree, limit, sort)
        return page

    def document(self, asset: Asset) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.engine.kept(asset.asset_id)
        return found

    def video_results(self, document: dict[str, Any]) -> VideoResults | None:
        found = {}
        for feature, result in (document.get("features") or {}).items():
            kept = self.engine.kept(result["resultsLocation"]) if result.get("resultsLocation") else None
            if kept is not None:
                found[feature] = kept["items"]
        return found or None

    def thumbnail_url(self, asset: Asset, at_seconds: float | None) -> str | None:
        if asset.kind != "image" or asset.status not in PREVIEWED_STATUSES or asset.format not in BROWSER_IMAGES:
            return None
        return self.media_url(asset)

    def media_url(self, asset: Asset) -> str | None:
        if asset.kind not in ("image", "video"):
            return None
        return presigned_get(self.s3, asset.bucket, asset.key, asset.version_id)


def presigned_get(s3: Any, bucket: str, key: str, version_id: str) -> str:
    """A GetObject URL of that object version, signed with the user's credentials (StackLibrary's docstring)."""
    url: str = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key, "VersionId": version_id}, ExpiresIn=PRESIGNED_SECONDS
    )
    return url


@functools.cache
def keeping_engine() -> Any:
    """AthenaEngine, keeping each results document it reads (it reads one per hit for the evidence, and a
    video's feature results), so the page draws the boxes from them without reading them twice. Made on first
    use: boto3 only when a stack is served."""
    from rekflow.search.athena import AthenaEngine

    @dataclass
    class DocumentKeepingEngine(AthenaEngine):
        def __post_init__(self) -> None:
            self._documents: dict[str, dict[str, Any]] = {}
            self._lock = threading.Lock()

        def _read(self, location: str) -> dict[str, Any]:
            data = super()._read(location)
            with self._lock:
                if len(self._documents) >= KEPT_DOCUMENTS:
                    self._documents.clear()
                self._documents[location] = data  # a video's feature results, by where they are
                if is_results_document(data):
                    self._documents[data["assetId"]] = data
            return data

        def kept(self, asset_id_or_location: str) -> dict[str, Any] | None:
            with self._lock:
                return self._documents.get(asset_id_or_location)

    return DocumentKeepingEngine
