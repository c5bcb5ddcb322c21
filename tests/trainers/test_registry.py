"""The registry: plug-ins through $TUNER_TRAINERS, and only Trainer subclasses."""

from __future__ import annotations

import pytest

from trainers import EXTRA_VARIABLE, load_trainer, registry, trainer_revision


def test_a_class_that_is_no_trainer_is_refused(monkeypatch):
    monkeypatch.setenv(EXTRA_VARIABLE, "Output=tuner.output:TopicModelOutput")
    assert "Output" in registry()
    with pytest.raises(TypeError, match=r"Output \(tuner.output:TopicModelOutput\) must be a "
                                        r"class that subclasses trainers.base.Trainer"):
        load_trainer("output")


def test_a_plug_in_trainer_is_loaded_in_any_case(monkeypatch):
    monkeypatch.setenv(EXTRA_VARIABLE, "Flaky=tests.plugins:FlakyTrainer")
    assert load_trainer("FLAKY").name == "Flaky"
    assert trainer_revision("flaky") is None  # the Protocol's default


@pytest.mark.parametrize(("model", "revision"), [("ProdLDA", 4), ("LDA", None)])
def test_revision_is_declared_or_defaults_to_none(model, revision):
    assert trainer_revision(model) == revision


def _trainer_classes() -> list[tuple[str, type]]:
    """Every Trainer subclass defined in a trainers/ module, found by importing them all."""
    import importlib
    from pathlib import Path

    import trainers
    from trainers.base import Trainer

    found = []
    for path in sorted(Path(trainers.__file__).parent.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        module = importlib.import_module(f"trainers.{path.stem}")
        found += [(module.__name__, cls) for cls in vars(module).values()
                  if isinstance(cls, type) and cls is not Trainer and Trainer in cls.__mro__
                  and cls.__module__ == module.__name__]
    return found


def test_the_parsed_registry_lists_every_trainer_class_exactly():
    from trainers import BUILTIN

    imported = {cls.name: f"{module}:{cls.__name__}" for module, cls in _trainer_classes()}
    assert imported == BUILTIN
    assert len(BUILTIN) >= 12
