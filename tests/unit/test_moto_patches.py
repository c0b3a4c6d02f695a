"""rekflow's patches to moto are contained, reverted, and fail loudly when moto changes under them."""

from __future__ import annotations

import importlib.metadata
import inspect

import pytest

from rekflow.local import engine


def test_patches_are_written_for_the_installed_moto():
    assert importlib.metadata.version("moto") == engine.MOTO_VERSION, (
        "moto was upgraded: re-read every target in rekflow/local/engine.py, then update MOTO_VERSION")


def test_another_moto_version_is_refused(monkeypatch):
    monkeypatch.setattr(engine, "version", lambda name: "0.0.1")
    with pytest.raises(RuntimeError, match="written for moto"), engine.patched_moto():
        pass


def test_every_target_still_has_the_shape_its_patch_relies_on():
    # Every patched attribute exists...
    for patch in engine.patches():
        assert hasattr(patch.owner, patch.name), f"{patch.owner}.{patch.name} is gone"
    # ...and the moto internals the patches call or read still look the way they were written against.
    from moto.core.base_backend import BackendDict
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_aws_sdk
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.utils import TMP_THREADS

    assert "AmazonStateLanguageParser.parse(" in inspect.getsource(ExecutionWorker._get_evaluation_entrypoint)
    assert list(inspect.signature(AmazonStateLanguageParser.parse).parameters) == ["definition"]
    assert list(inspect.signature(BackendDict._create_account_specific_backend).parameters) == ["self", "account_id"]
    assert list(inspect.signature(boto_client_for).parameters) == ["region", "service", "state_credentials"]
    assert isinstance(state_task_service_aws_sdk._SERVICE_ERROR_NAMES, dict)
    assert isinstance(TMP_THREADS, list)
    from moto.stepfunctions.parser.asl.utils import json_path

    assert "parse(path)" in inspect.getsource(json_path.extract_json)


def test_patches_apply_nest_and_revert():
    from moto.dynamodb.models import DynamoDBBackend

    before = DynamoDBBackend.update_item
    with engine.patched_moto():
        patched = DynamoDBBackend.update_item
        assert patched is not before
        with engine.patched_moto():  # a second local runtime inside the first shares the patches
            assert DynamoDBBackend.update_item is patched
        assert DynamoDBBackend.update_item is patched, "the inner exit must not revert the outer's patches"
    assert DynamoDBBackend.update_item is before
