"""The scorecard as a tool on someone's own table: ``creditbridge scoring fit`` fits the platform's
statistical scorecard (:mod:`creditbridge.scoring.training`) on a CSV file and writes the card as
JSON; ``creditbridge scoring apply`` scores another CSV file with that card. No database here.

``card.json``::

    {"format": "creditbridge-scorecard/1", "target": "default", "bad_value": "1",
     "scaling": {"base_score": 600, "base_odds": 50, "pdo": 20}, "base": 612,
     "features": [
       {"name": "age", "type": "numeric", "iv": 0.08, "bins": [
          {"lower": null, "upper": 25.5, "points": -12},
          {"lower": 25.5, "upper": null, "points": 4},
          {"missing": true, "points": -12},
          {"special": true, "values": [-999], "points": -3}]},
       {"name": "purpose", "type": "categorical", "iv": 0.05, "bins": [
          {"categories": ["car (new)", "others"], "points": -7},
          {"categories": ["radio/television"], "points": 6},
          {"missing": true, "points": -7}]}],
     "training": {...}}

score = ``base`` + the points of each feature's bin; a higher score is a better credit (the points
are ``PDO / ln 2 · ln(odds good:bad)``). A numeric bin holds ``lower ≤ x < upper`` (``null``: no
bound); the points of a numeric feature only rise or only fall from bin to bin. A category not seen
in training scores as missing. A value listed as special (``--special``) has a bin of its own:
special values share the missing bin in the regression and get their points from their own weight
of evidence times the feature's weight.

Rows are numbered as in a spreadsheet: the header is row 1, the first data row row 2.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from creditbridge.presentation.errors import keyed
from creditbridge.presentation.exports import csv_row
from creditbridge.scoring import training
from creditbridge.scoring.errors import CardInputInvalid
from creditbridge.scoring.schemas import Scaling, TrainingRules

FORMAT: Final = "creditbridge-scorecard/1"
MISSING_TOKENS: Final = frozenset({"", "na", "nan", "null", "none"})
# A text column with more distinct values than this is an identifier or free text, not a category.
MAX_CATEGORIES: Final = 50
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Table:
    """Columns by name, in file order: float64 for numbers (NaN = missing), object (str or
    None) for text."""

    columns: dict[str, NDArray[Any]]
    rows: int


def _row(index: int) -> int:
    return index + 2  # the header is row 1


def _is_missing(text: str | None) -> bool:
    return text is None or text.strip().lower() in MISSING_TOKENS


def read_csv(path: Path) -> Table:
    """Every column of ``path`` as text (UTF-8, with or without a byte-order mark)."""
    import pyarrow as pa  # type: ignore[import-untyped]
    from pyarrow import csv as pacsv

    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except FileNotFoundError:
        raise keyed(CardInputInvalid, "error.scoring.card.no_file", path=str(path)) from None
    except UnicodeDecodeError:
        raise keyed(CardInputInvalid, "error.scoring.card.encoding", path=str(path)) from None
    if not header or all(not h.strip() for h in header):
        raise keyed(CardInputInvalid, "error.scoring.card.empty", path=str(path))
    seen: set[str] = set()
    for name in header:
        if not name.strip():
            raise keyed(
                CardInputInvalid,
                "error.scoring.card.blank_column",
                path=str(path),
                column=header.index(name) + 1,
            )
        if name in seen:
            raise keyed(
                CardInputInvalid, "error.scoring.card.duplicate_column", path=str(path), name=name
            )
        seen.add(name)
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding="utf-8", column_names=header, skip_rows=1),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid as exc:
        raise keyed(
            CardInputInvalid, "error.scoring.card.not_csv", path=str(path), reason=str(exc)
        ) from None
    if table.num_rows == 0:
        raise keyed(CardInputInvalid, "error.scoring.card.no_rows", path=str(path))
    columns = {name: np.asarray(table.column(name).to_pylist(), dtype=object) for name in header}
    return Table(columns, table.num_rows)


def _numbers(name: str, text: NDArray[Any]) -> F64 | None:
    """The column as numbers, or None if some value is not a number."""
    out = np.empty(len(text), dtype=np.float64)
    for i, value in enumerate(text):
        if _is_missing(value):
            out[i] = math.nan
            continue
        try:
            out[i] = float(value)
        except ValueError:
            return None
        if not math.isfinite(out[i]):
            return None
    return out


def _number_or_raise(name: str, text: NDArray[Any]) -> F64:
    column = _numbers(name, text)
    if column is None:
        for i, value in enumerate(text):
            if _is_missing(value):
                continue
            try:
                if math.isfinite(float(value)):
                    continue
            except ValueError:
                pass
            raise keyed(
                CardInputInvalid,
                "error.scoring.card.not_a_number",
                row=_row(i),
                name=name,
                value=value,
            )
    assert column is not None
    return column


def typed(table: Table) -> Table:
    """Text columns whose every value is a number (or missing) become float64."""
    columns: dict[str, NDArray[Any]] = {}
    for name, column in table.columns.items():
        if column.dtype == object:
            numbers = _numbers(name, column)
            columns[name] = numbers if numbers is not None else column
        else:
            columns[name] = column
    return Table(columns, table.rows)


def outcome(table: Table, target: str, bad_value: str) -> NDArray[np.int64]:
    """1 where the target column holds ``bad_value``, 0 for the other value; refuses a missing
    column, an empty cell and more or fewer than two values."""
    if target not in table.columns:
        raise keyed(
            CardInputInvalid,
            "error.scoring.card.no_target",
            target=target,
            columns="、".join(table.columns),
        )
    column = table.columns[target]
    text = [_label(v) for v in column]
    for i, value in enumerate(text):
        if value is None:
            raise keyed(
                CardInputInvalid, "error.scoring.card.empty_target", row=_row(i), target=target
            )
    kinds = sorted({v for v in text if v is not None})
    if len(kinds) != 2:
        shown = "、".join(str(k) for k in kinds[:5]) + ("…" if len(kinds) > 5 else "")
        raise keyed(
            CardInputInvalid,
            "error.scoring.card.not_binary",
            target=target,
            bad_value=bad_value,
            n=len(kinds),
            values=shown,
        )
    wanted = _label(bad_value)
    if wanted not in kinds:
        raise keyed(
            CardInputInvalid,
            "error.scoring.card.no_bad_value",
            target=target,
            bad_value=bad_value,
            first=kinds[0],
            second=kinds[1],
        )
    return np.asarray([v == wanted for v in text], dtype=np.int64)


def _label(value: Any) -> str | None:
    """A target value as text, ``1`` and ``1.0`` alike."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    if text.lower() in MISSING_TOKENS:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else repr(number)


# ------------------------------------------------------------------ fit


@dataclass(frozen=True)
class _Feature:
    name: str
    kind: str  # numeric | categorical
    values: F64  # as the binning sees them (categories as the rank of their bad rate)
    special: NDArray[np.bool_]
    categories: tuple[str, ...] = ()  # categorical: in rank order (rank i ↔ categories[i])


def _categorical(name: str, column: NDArray[Any], y: NDArray[np.int64]) -> _Feature:
    text = np.asarray([None if _is_missing(v) else str(v) for v in column], dtype=object)
    present = np.asarray([v is not None for v in text])
    rates: dict[str, list[int]] = {}
    for value, bad in zip(text[present], y[present], strict=True):
        counts = rates.setdefault(value, [0, 0])
        counts[0] += 1
        counts[1] += int(bad)
    # Categories have no order; the rank of their bad rate gives them one, so the monotone binning
    # groups categories of similar risk.
    order = sorted(rates, key=lambda k: (rates[k][1] / rates[k][0], k))
    rank = {k: float(i) for i, k in enumerate(order)}
    values = np.asarray([rank[v] if v is not None else math.nan for v in text], dtype=np.float64)
    return _Feature(name, "categorical", values, np.zeros(len(text), dtype=bool), tuple(order))


def fit_card(
    table: Table, *, target: str, bad_value: str = "1", exclude: Sequence[str] = (),
    special: Sequence[float] = (), rules: TrainingRules, scaling: Scaling,
) -> dict[str, Any]:  # fmt: skip
    """Fit the scorecard on ``table`` (every column but the target and ``exclude``) and return
    the card as the JSON document described in the module docstring."""
    y = outcome(table, target, bad_value)
    for name in exclude:
        if name not in table.columns:
            raise keyed(CardInputInvalid, "error.scoring.card.no_excluded", name=name)
    names = [n for n in table.columns if n != target and n not in exclude]
    if not names:
        raise keyed(CardInputInvalid, "error.scoring.card.no_features")
    training.check_outcomes(y, rules)
    specials = np.asarray(sorted(set(special)), dtype=np.float64)
    features: list[_Feature] = []
    skipped: list[str] = []
    for name in names:
        column = table.columns[name]
        if column.dtype == object:
            distinct = {v for v in column if not _is_missing(v)}
            if len(distinct) > MAX_CATEGORIES:
                # An identifier or free text: ranking its values by bad rate would only memorise.
                skipped.append(name)
                continue
            features.append(_categorical(name, column, y))
        else:
            x = np.asarray(column, dtype=np.float64)
            is_special = np.isin(x, specials)
            features.append(_Feature(name, "numeric", np.where(is_special, np.nan, x), is_special))
    if not features:
        raise keyed(
            CardInputInvalid,
            "error.scoring.card.only_identifiers",
            columns="、".join(skipped),
            n=MAX_CATEGORIES,
        )
    names = [f.name for f in features]
    values = np.column_stack([f.values for f in features])
    fitted = training.fit_scorecard(values, y, names, rules=rules, scaling=scaling)
    factor = scaling.pdo / math.log(2)
    weight: dict[str, float] = {}
    for key, coefficient in fitted.coefficients.items():
        code = key.rsplit(":", 1)[0]
        weight[code] = weight.get(code, 0.0) + coefficient
    iv = {s.code: s.iv for s in fitted.stats}
    by_name = {f.name: f for f in features}
    out_features = []
    for bins in fitted.card.bins:
        feature = by_name[bins.code]
        out_features.append(
            {
                "name": feature.name,
                "type": feature.kind,
                "iv": round(iv[feature.name], 6),
                "bins": _bins_json(
                    bins, feature, y, weight.get(feature.name, 0.0), factor, specials
                ),
            }
        )
    return {
        "format": FORMAT,
        "target": target,
        "bad_value": bad_value,
        "scaling": scaling.model_dump(),
        "base": fitted.card.base,
        "features": out_features,
        "training": {
            "rows": len(y),
            "bad": int(y.sum()),
            "features_considered": names,
            "excluded": list(exclude),
            "skipped_text_columns": skipped,
            "special_values": [float(s) for s in specials],
            "intercept": fitted.intercept,
            "coefficients": fitted.coefficients,
        },
    }


def _unordered_points(
    rows: NDArray[np.bool_], y: NDArray[np.int64], weight: float, factor: float, worst: int
) -> int:
    """Points of an unordered bin (missing, special): the feature's weight × the bin's own weight
    of evidence, or the worst value bin's points when no training row fell in it."""
    n_bad, n_good = int(y[rows].sum()), int((1 - y[rows]).sum())
    if n_bad + n_good == 0:
        return worst
    total_bad, total_good = max(int(y.sum()), 1), max(int((1 - y).sum()), 1)
    woe = math.log(((n_bad + 0.5) / total_bad) / ((n_good + 0.5) / total_good))
    return round(-factor * weight * woe)


def _bins_json(
    bins: Any, feature: _Feature, y: NDArray[np.int64], weight: float, factor: float,
    specials: F64,
) -> list[dict[str, Any]]:  # fmt: skip
    edges = [None, *bins.splits, None]
    out: list[dict[str, Any]] = []
    for k, points in enumerate(bins.points):
        low, high = edges[k], edges[k + 1]
        if feature.kind == "numeric":
            out.append({"lower": low, "upper": high, "points": int(points)})
        else:
            ranks = np.arange(len(feature.categories), dtype=np.float64)
            inside = (ranks >= (low if low is not None else -math.inf)) & (
                ranks < (high if high is not None else math.inf)
            )
            out.append(
                {
                    "categories": [c for c, i in zip(feature.categories, inside, strict=True) if i],
                    "points": int(points),
                }
            )
    worst = min(bins.points)
    missing = np.isnan(feature.values) & ~feature.special
    out.append({"missing": True, "points": _unordered_points(missing, y, weight, factor, worst)})
    if feature.kind == "numeric" and specials.size:
        out.append(
            {
                "special": True,
                "values": [float(s) for s in specials],
                "points": _unordered_points(feature.special, y, weight, factor, worst),
            }
        )
    return out


# ------------------------------------------------------------------ apply


def check_card(card: Mapping[str, Any]) -> None:
    if card.get("format") != FORMAT or not isinstance(card.get("features"), list):
        raise keyed(CardInputInvalid, "error.scoring.card.not_a_card", format=FORMAT)


def apply_card(card: Mapping[str, Any], table: Table) -> NDArray[np.int64]:
    """The score of every row of ``table`` (text columns, as :func:`read_csv` gives them)."""
    check_card(card)
    missing = [f["name"] for f in card["features"] if f["name"] not in table.columns]
    if missing:
        raise keyed(
            CardInputInvalid, "error.scoring.card.missing_columns", columns="、".join(missing)
        )
    score = np.full(table.rows, int(card["base"]), dtype=np.int64)
    for feature in card["features"]:
        score += _feature_points(feature, table.columns[feature["name"]])
    return score


def _feature_points(feature: Mapping[str, Any], column: NDArray[Any]) -> NDArray[np.int64]:
    bins = feature["bins"]
    value_bins = [b for b in bins if not b.get("missing") and not b.get("special")]
    missing_points = next(int(b["points"]) for b in bins if b.get("missing"))
    if feature["type"] == "categorical":
        lookup = {str(c): int(b["points"]) for b in value_bins for c in b["categories"]}
        return np.asarray(
            [
                missing_points if _is_missing(v) else lookup.get(str(v), missing_points)
                for v in column
            ],
            dtype=np.int64,
        )
    x = column if column.dtype != object else _number_or_raise(feature["name"], column)
    splits = np.asarray([b["lower"] for b in value_bins[1:]], dtype=np.float64)
    points = np.asarray([int(b["points"]) for b in value_bins], dtype=np.int64)
    out = points[np.searchsorted(splits, x, side="right")]
    out[np.isnan(x)] = missing_points
    for b in bins:
        if b.get("special"):
            out[np.isin(x, np.asarray(b["values"], dtype=np.float64))] = int(b["points"])
    return out


def write_scored(path: Path, table: Table, score: NDArray[np.int64]) -> None:
    """``table`` as read, with a ``score`` column added (replaced if the file had one)."""
    names = [n for n in table.columns if n != "score"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(csv_row([*names, "score"]))
        columns = [table.columns[n] for n in names]
        for i in range(table.rows):
            writer.writerow(csv_row([*(c[i] for c in columns), int(score[i])]))
