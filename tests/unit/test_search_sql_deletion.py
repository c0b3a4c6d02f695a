"""What a deletion takes out of the library (lambdas/search_index/forget.py), decided from what S3 lists for the key.

The asset ids it computes must be the ones Validate gave the versions (lambdas/validate/asset.py): two
functions, two copies of one rule (a Lambda function imports only its own folder), held equal here.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from rekflow import PROJECT_ROOT


def function_module(folder: str, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{folder}_{name}", PROJECT_ROOT / "lambdas" / folder / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


forget = function_module("search_index", "forget")
validate_asset = function_module("validate", "asset")


@pytest.mark.parametrize(
    ("version_id", "etag"),
    [("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", '"abc"'), ("null", '"d41d8cd98f00b204e9800998ecf8427e"'), (None, "e")],
)
@pytest.mark.parametrize("key", ["photos/cat.jpg", "a b+c%20é/ünï.mp4"])
def test_a_version_gets_the_asset_id_validate_gave_it(key, version_id, etag):
    assert forget.version_asset_id("media", key, version_id, etag) == validate_asset.asset_id(
        "media", key, version_id, etag
    )


def version(version_id: str, latest: bool, marker: bool = False) -> dict:
    return {"Key": "k", "VersionId": version_id, "IsLatest": latest, "DeleteMarker": marker, "ETag": '"e"'}


def test_a_key_is_gone_when_nothing_current_is_left():
    assert forget.key_is_gone([])
    assert forget.key_is_gone([version("m", latest=True, marker=True), version("v1", latest=False)])
    assert not forget.key_is_gone([version("v2", latest=True), version("v1", latest=False)])


def test_every_version_the_key_held_is_forgotten_and_markers_are_not_assets():
    versions = [version("m", latest=True, marker=True), version("v1", latest=False)]
    ids = forget.deleted_versions("media", "k", versions, event_version="v0")
    assert ids == [
        forget.version_asset_id("media", "k", "v1", '"e"'),
        forget.version_asset_id("media", "k", "v0", None),
    ]
