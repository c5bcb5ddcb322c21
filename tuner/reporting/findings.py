"""What a model found beside its topics, for the report: a dynamic model's words per time slice
(DTM's extras "slice_top_words") and a structural model's covariate effects (STM's extras
"covariate_effects"). Read from the trial's extras.json by their keys, so a 13th model that
reports either in the same shape is shown the same way."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from tuner.reporting.health import counted
from tuner.tracking.tracker import EXTRAS_FILE

SLICES_SHOWN = 8  # time slices per table; more are sampled evenly, first and last kept
WORDS_PER_SLICE = 4
TOPICS_PER_EFFECT = 3  # topics listed per covariate and direction
EFFECT_COLUMNS = 20  # covariate columns listed; a 200-level category listed 199
EFFECT_WORDS = 5


def findings_html(topics: Mapping[str, Sequence[str]], extras: Mapping[str, Any]) -> str:
    """The findings of one trial as collapsible HTML sections; empty when it reported none, or
    reported them in a shape this reader does not know (an older run, an edited artifact): one
    odd value must not cost the whole report."""
    sections = []
    for section in (lambda: _slices_html(extras.get("slice_top_words"), topic_shares(extras)),
                    lambda: _effects_html(extras.get("covariate_effects"), topics)):
        try:
            sections.append(section())
        except (TypeError, ValueError, KeyError, AttributeError, IndexError):
            sections.append("")
    return "".join(sections)


def topic_shares(extras: Mapping[str, Any]) -> dict[str, list[float]]:
    """extras["slice_topic_share"] as {slice label: K shares}, with as many topics in every
    slice; {} when the run logged none or logged them in another shape."""
    found = extras.get("slice_topic_share")
    if not isinstance(found, dict) or not found:
        return {}
    try:
        shares = {str(label): [float(x) for x in values] for label, values in found.items()}
    except (TypeError, ValueError):
        return {}
    return shares if len({len(v) for v in shares.values()}) == 1 and \
        all(shares.values()) else {}


def shown_slices(count: int, most: int = SLICES_SHOWN) -> list[int]:
    """Indices of the slices a table shows: all of them up to `most`, else `most` spread evenly
    from the first to the last."""
    if count <= most:
        return list(range(count))
    return sorted({round(i * (count - 1) / (most - 1)) for i in range(most)})


def _slices_html(per_slice: Any, shares: Mapping[str, list[float]]) -> str:
    if not isinstance(per_slice, dict) or not per_slice:
        return ""
    labels = list(per_slice)
    shown = [labels[i] for i in shown_slices(len(labels))]
    columns = [per_slice[label] for label in shown]
    if not all(isinstance(c, list) for c in columns):
        return ""
    k = min(len(c) for c in columns)
    rows = "".join(
        f"<tr><th>{topic}</th>"
        + "".join(f"<td>{_share(shares.get(label), topic)}"
                  f"{html.escape(' '.join(map(str, c[topic][:WORDS_PER_SLICE])))}</td>"
                  for label, c in zip(shown, columns, strict=True)) + "</tr>"
        for topic in range(k))
    head = "".join(f"<th>{html.escape(str(label))}</th>" for label in shown)
    sampled = (f", {len(shown)} of {len(labels)} shown, evenly spaced"
               if len(shown) < len(labels) else "")
    share_note = (", after its mean proportion θ in the slice's documents (a topic can be the "
                  "main topic of more documents than its mean proportion says)" if shares else "")
    return (f"<details><summary>Topics over time: each topic's top words in each time slice"
            f"{share_note} ({len(labels)} slices{sampled})</summary>{_even_shares_note(shares)}"
            f"<table><tr><th>topic</th>{head}</tr>{rows}</table></details>")


EVEN_SPREAD = (0.5, 2.0)  # times 1/K: every share within it reads as an even split


def _even_shares_note(shares: Mapping[str, list[float]]) -> str:
    """A caveat when every topic's share stays near 1/K in every slice: DTM at its default 100
    epochs on 1,500 HuffPost items kept each of 10 topics at 8 to 13% from 2018 to 2022, a
    COVID topic at 8% in 2018, and without the caveat the table reads as a trend."""
    values = [v for slice_shares in shares.values() for v in slice_shares]
    if not values:
        return ""
    k = len(next(iter(shares.values())))
    low, high = EVEN_SPREAD
    if not all(low / k <= v <= high / k for v in values):
        return ""
    return (f"<p><i>Every topic's share stays between {100 * min(values):.0f}% and "
            f"{100 * max(values):.0f}% in every slice, near an even split of {k} topics "
            f"({100 / k:.0f}% each): the fit spread the documents over its topics rather than "
            "finding topics that rise and fall, so these shares show no trend. An untrained fit "
            "does this (raise epochs, and check its NPMI beside the other models').</i></p>")


def _share(shares: list[float] | None, topic: int) -> str:
    """"12% · " for a topic's mean proportion in a slice; empty where the run logged none."""
    return f"{100 * shares[topic]:.0f}% · " if shares and topic < len(shares) else ""


def _effects_html(effects: Any, topics: Mapping[str, Sequence[str]]) -> str:
    if not isinstance(effects, dict) or not isinstance(effects.get("effects"), dict):
        return ""
    table = {str(name): values for name, values in effects["effects"].items()
             if isinstance(values, list) and values}
    if not table:
        return ""
    items = "".join(_effect_item(name, values, topics)
                    for name, values in list(table.items())[:EFFECT_COLUMNS])
    if len(table) > EFFECT_COLUMNS:
        items += (f"<li>and {len(table) - EFFECT_COLUMNS} more columns, in the trial's "
                  f"{html.escape(EXTRAS_FILE)}</li>")
    references = effects.get("reference_levels") or {}
    against = ("; reference levels: " + ", ".join(
        f"{html.escape(str(f))}={html.escape(str(v))}" for f, v in references.items())
        if isinstance(references, dict) and references else "")
    scale = html.escape(str(effects.get("scale", "")))
    return (f"<details><summary>Covariate effects on topic prevalence "
            f"({counted(len(table), 'covariate column')})</summary><p>{scale}{against}. The "
            f"topics each covariate raises and lowers most:</p><ul>{items}</ul></details>")


def _effect_item(name: str, values: Sequence[Any], topics: Mapping[str, Sequence[str]]) -> str:
    effects = [(float(v), k) for k, v in enumerate(values)]
    raised = sorted((e for e in effects if e[0] > 0), reverse=True)[:TOPICS_PER_EFFECT]
    lowered = sorted(e for e in effects if e[0] < 0)[:TOPICS_PER_EFFECT]

    def listed(chosen: list[tuple[float, int]]) -> str:
        return "; ".join(
            f"topic {k} ({effect:+.3g}: "
            f"{html.escape(' '.join(map(str, topics.get(str(k), [])[:EFFECT_WORDS])))})"
            for effect, k in chosen) or "none"

    return (f"<li><b>{html.escape(name)}</b>: raises {listed(raised)}; lowers "
            f"{listed(lowered)}</li>")
