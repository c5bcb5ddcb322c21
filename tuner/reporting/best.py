"""`tuner best`: the best trial of an experiment as a grid JSON that re-runs exactly it.

The grid starts from the sweep's own grid file (the parent run's tag `tuner.grid`) when it is
still there, so dataset fields, embedding and preprocessing carry over; the parent run's params
fill in the dataset path, language and ground truth when it is not. The model, its full
parameters, the seed and the metric settings come from the trial run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tuner.errors import TunerError
from tuner.params import Param

METRIC_SETTINGS = ("npmi_window", "topn", "diversity_topn")


def parse_param(param: Param, text: str) -> Any:
    """An MLflow param string back to the schema's type ("null" -> None)."""
    if text == "null":
        return None
    if param.type is bool:
        return text == "True"
    return param.type(float(text)) if param.type is int and "." in text else param.type(text)


def best_grid(tracking_uri: str, experiment: str, metric: str,
              rename: str | None = None) -> dict[str, Any]:
    """The grid JSON (as a dict) of the best finished trial by `metric`.

    Raises:
        TunerError: unknown experiment, or no finished trial logged `metric`.
    """
    from tuner.reporting.leaderboard import leaderboard
    from tuner.tracking.tracker import MlflowTracker

    tracker = MlflowTracker(tracking_uri)
    experiment_id = tracker.experiment_id(experiment, create=False)
    if experiment_id is None:
        raise TunerError(f"experiment '{experiment}': not found in {tracking_uri}; "
                         "check the name and --tracking-uri")
    board = leaderboard(tracker, experiment_id, metric, 1)
    if not board:
        raise TunerError(f"experiment '{experiment}': no finished trial has metric '{metric}'; "
                         "pick one of npmi, diversity, ari, f1 that the sweep logged")
    trial = tracker.client.get_run(board[0].run_id)
    parent = tracker.client.get_run(trial.data.tags["mlflow.parentRunId"])
    grid = _base_grid(parent.data.tags.get("tuner.grid"), parent.data.params)
    grid |= _trial_fields(trial.data.tags["tuner.model"], trial.data.params)
    grid["experiment"] = rename or f"{experiment}-best-{metric}"
    grid["leaderboard_metric"] = metric
    return grid


def _base_grid(grid_path: str | None, sweep_params: Mapping[str, str]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    if grid_path and Path(grid_path).is_file():
        raw = json.loads(Path(grid_path).read_text(encoding="utf-8"))
    truth = sweep_params.get("ground_truth", "")
    dataset = dict(raw.get("dataset") or {"language": sweep_params.get("language", "en")})
    dataset["path"] = sweep_params["dataset"]  # the resolved, absolute path the sweep used
    if truth.startswith("label_field:"):
        dataset["label_field"] = truth.removeprefix("label_field:")
    grid = {k: v for k, v in raw.items()
            if k in ("embedding", "preprocessing", "timeout_s")}
    grid["dataset"] = dataset
    grid["ground_truth"] = None if truth.startswith("label_field:") or not truth else truth
    if "embedding" not in grid and "embedding_model" in sweep_params:
        grid["embedding"] = {"model": sweep_params["embedding_model"],
                             "pooling": sweep_params.get("pooling", "mean"),
                             "max_length": int(sweep_params.get("max_length", 256))}
    return grid


def _trial_fields(model: str, params: Mapping[str, str]) -> dict[str, Any]:
    from trainers import load_trainer

    schema = load_trainer(model).params
    values = {p.name: parse_param(p, params[p.name]) for p in schema.params if p.name in params}
    return {"models": [model], "params": values, "seeds": [int(params["seed"])],
            "metrics": {k: int(params[k]) for k in METRIC_SETTINGS if k in params}}
