"""A local journal of trial results the tracking store did not accept, replayed on the next run.

JSON lines, appended and fsynced: a result that finished is never lost to a store outage.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tuner.data.store import json_sha256, locked, replace_text_atomically
from tuner.trial import (
    CheckpointPlan,
    DataRef,
    MetricSettings,
    TrialError,
    TrialRecord,
    TrialSpec,
    TrialStatus,
)

log = logging.getLogger(__name__)


class ForeignEntry(Exception):
    """Raised by a replay's writer for an entry another store or experiment journalled: it stays
    in the journal, unreported (the store did not refuse it)."""


class Journal:
    """One experiment's journal file; torn lines are set aside in `<name>.torn` beside it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def torn_path(self) -> Path:
        return self.path.with_name(self.path.name + ".torn")

    def append(self, run_id: str, record: TrialRecord) -> None:
        entry = json.loads(json.dumps({"run_id": run_id, "record": record_to_dict(record)},
                                      default=str))
        line = json.dumps({**entry, "sha256": json_sha256(entry)})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with locked(self.path):
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())

    def replay(self, write: Callable[[str, TrialRecord], None]) -> int:
        """Hand every journalled result to `write`; returns how many it took. The journal is
        rewritten afterwards with only the entries `write` refused, so a store that fails
        mid-replay loses nothing; a line that cannot be read is moved to `torn_path`."""
        if not self.path.is_file():
            return 0
        with locked(self.path):
            lines = [line for line in self.path.read_bytes().splitlines() if line.strip()]
            entries, torn = _parse(lines)
            kept: list[str] = []
            tried = 0
            try:
                for line, run_id, record in entries:
                    if not _wrote(write, run_id, record):
                        kept.append(line)
                    tried += 1
            finally:  # interrupted (Ctrl-C), the entries written are not kept to be written again
                kept += [line for line, _, _ in entries[tried:]]
                if torn:
                    _append_lines(self.torn_path, torn)
                _rewrite(self.path, kept)
        return len(entries) - len(kept)


def _parse(lines: list[bytes]) -> tuple[list[tuple[str, str, TrialRecord]], list[bytes]]:
    """The entries a journal's lines hold, and the lines that cannot be trusted: torn, not
    UTF-8 (else one bad byte stops every replay, and so the experiment), or whose checksum
    disagrees with their content (else a changed digit is replayed as a result)."""
    entries, torn = [], []
    for line in lines:
        try:
            text = line.decode("utf-8")
            entry = json.loads(text)
            check = entry.pop("sha256", None)  # absent from journals written before it
            if check is not None and check != json_sha256(entry):
                raise ValueError("checksum")
            entries.append((text, str(entry["run_id"]), record_from_dict(entry["record"])))
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            log.warning("journal line unreadable (%s); set aside", type(err).__name__)
            torn.append(line)
    return entries, torn


def _wrote(write: Callable[[str, TrialRecord], None], run_id: str, record: TrialRecord) -> bool:
    try:
        write(run_id, record)
    except ForeignEntry:
        log.info("journalled trial %s is another store's or experiment's; kept for it",
                 record.spec.key)
        return False
    except Exception as err:  # the store still refuses: keep the entry for the next run
        log.warning("journalled trial %s still cannot be logged: %s", record.spec.key, err)
        return False
    return True


def _append_lines(path: Path, lines: list[bytes]) -> None:
    with path.open("ab") as handle:
        handle.write(b"".join(line + b"\n" for line in lines))
        handle.flush()
        os.fsync(handle.fileno())


def _rewrite(path: Path, lines: list[str]) -> None:
    """Replace the journal with `lines` atomically (removed when there are none)."""
    if not lines:
        path.unlink(missing_ok=True)
        return
    replace_text_atomically(path, "".join(line + "\n" for line in lines))


def record_to_dict(record: TrialRecord) -> dict[str, Any]:
    data = asdict(record)
    data["status"] = record.status.value
    return data


def record_from_dict(data: dict[str, Any]) -> TrialRecord:
    spec = dict(data["spec"])
    ref = dict(spec["data"])
    spec["data"] = DataRef(**{**ref, "roots": tuple(ref.get("roots", ()))})  # JSON has no tuple
    # a record journaled before npmi_reference existed was scored on its vocabulary's windows
    spec["metrics"] = MetricSettings(**{"npmi_reference": "vocabulary", **spec["metrics"]})
    if spec.get("checkpoints"):
        plan = dict(spec["checkpoints"])
        spec["checkpoints"] = CheckpointPlan(**{**plan, "decide_at": tuple(plan["decide_at"])})
    error = TrialError(**data["error"]) if data.get("error") else None
    return TrialRecord(**{**data, "spec": TrialSpec(**spec), "status": TrialStatus(data["status"]),
                          "error": error,
                          "curve": tuple((int(s), float(v)) for s, v in data.get("curve", ()))})
