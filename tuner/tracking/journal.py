"""A local journal of trial results the tracking store did not accept, replayed on the next run.

JSON lines, appended and fsynced: a result that finished is never lost to a store outage.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tuner.data.store import locked
from tuner.trial import DataRef, MetricSettings, TrialError, TrialRecord, TrialSpec, TrialStatus


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def append(self, run_id: str, record: TrialRecord) -> None:
        line = json.dumps({"run_id": run_id, "record": record_to_dict(record)}, default=str)
        with locked(self.path):
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())

    def take(self) -> list[tuple[str, TrialRecord]]:
        """Every journalled entry, removing them from the journal."""
        if not self.path.is_file():
            return []
        with locked(self.path):
            lines = self.path.read_text(encoding="utf-8").splitlines()
            self.path.unlink()
        entries = [json.loads(line) for line in lines if line.strip()]
        return [(e["run_id"], record_from_dict(e["record"])) for e in entries]


def record_to_dict(record: TrialRecord) -> dict[str, Any]:
    data = asdict(record)
    data["status"] = record.status.value
    return data


def record_from_dict(data: dict[str, Any]) -> TrialRecord:
    spec = dict(data["spec"])
    spec["data"] = DataRef(**spec["data"])
    spec["metrics"] = MetricSettings(**spec["metrics"])
    error = TrialError(**data["error"]) if data.get("error") else None
    return TrialRecord(**{**data, "spec": TrialSpec(**spec), "status": TrialStatus(data["status"]),
                          "error": error})
