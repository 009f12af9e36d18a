"""Every saved workflow history replays against today's workflow code without nondeterminism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workflows.registry import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_every_workflow_type_has_a_saved_history():
    started = [json.loads(path.read_text())["events"][0]["workflowExecutionStartedEventAttributes"]
               for path in HISTORIES]
    saved = {attributes["workflowType"]["name"] for attributes in started}
    assert saved >= {w.__temporal_workflow_definition.name for w in WORKFLOWS}


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_saved_history_replays(path: Path):
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await Replayer(workflows=WORKFLOWS).replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
