"""`creditbridge scoring fit` / `apply`: the statistical scorecard on an analyst's own CSV file,
no database needed. The card format is described in :mod:`creditbridge.scoring.card_file`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import orjson
import typer

from creditbridge.presentation.errors import keyed
from creditbridge.scoring import card_file
from creditbridge.scoring.errors import CardInputInvalid, TrainingRefused
from creditbridge.scoring.schemas import grade_config

# Bad input is a usage error: exit 2, like a wrong option.
BAD_INPUT = 2


def _refuse(exc: CardInputInvalid | TrainingRefused) -> typer.Exit:
    typer.echo(f"错误 error [{exc.code}]: {exc.message}", err=True)
    return typer.Exit(BAD_INPUT)


def fit(
    file: Annotated[Path, typer.Argument(help="CSV file (UTF-8, header row) with the outcome")],
    target: Annotated[str, typer.Option("--target", help="outcome column (two values)")],
    out: Annotated[Path, typer.Option("--out", help="where to write card.json")],
    bad_value: Annotated[
        str, typer.Option("--bad-value", help="the target value meaning bad (default 1)")
    ] = "1",
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="a column not to use (repeatable)")
    ] = None,
    special: Annotated[
        list[float] | None,
        typer.Option("--special", help="a numeric code with a bin of its own, e.g. -999"),
    ] = None,
    max_features: Annotated[
        int, typer.Option("--max-features", min=1, help="most features on the card")
    ] = 30,
) -> None:
    """Fit a monotone scorecard on FILE and write it as JSON. 训练评分卡：目标列默认 1 = 坏。"""
    started = time.perf_counter()
    config = grade_config()
    rules = config.training.model_copy(update={"max_features": max_features})
    try:
        table = card_file.typed(card_file.read_csv(file))
        card = card_file.fit_card(
            table, target=target, bad_value=bad_value, exclude=exclude or (),
            special=special or (), rules=rules, scaling=config.scaling,
        )  # fmt: skip
    except (CardInputInvalid, TrainingRefused) as exc:
        raise _refuse(exc) from exc
    out.write_bytes(orjson.dumps(card, option=orjson.OPT_INDENT_2))
    names = [f["name"] for f in card["features"]]
    typer.echo(
        f"评分卡 scorecard {out}: {len(names)} 个特征 ({', '.join(names)}); "
        f"{card['training']['rows']} 行 / {card['training']['bad']} 坏 "
        f"in {time.perf_counter() - started:.1f} s"
    )
    if card["training"]["skipped_text_columns"]:
        typer.echo(
            "跳过 skipped (取值过多的文本列 text columns with too many values): "
            + ", ".join(card["training"]["skipped_text_columns"])
        )


def apply(
    card_path: Annotated[Path, typer.Argument(help="card.json written by `scoring fit`")],
    file: Annotated[Path, typer.Argument(help="CSV file to score (UTF-8, header row)")],
    out: Annotated[Path, typer.Option("--out", help="where to write the scored CSV")],
) -> None:
    """Score FILE with the card: the file with a `score` column added (higher = better credit).
    用评分卡打分。"""
    try:
        try:
            card = orjson.loads(card_path.read_bytes())
        except FileNotFoundError:
            raise keyed(CardInputInvalid, "error.cli.no_card", path=str(card_path)) from None
        except orjson.JSONDecodeError as exc:
            raise keyed(
                CardInputInvalid, "error.cli.card_not_json", path=str(card_path), reason=str(exc)
            ) from None
        table = card_file.read_csv(file)
        scores = card_file.apply_card(card, table)
    except CardInputInvalid as exc:
        raise _refuse(exc) from exc
    card_file.write_scored(out, table, scores)
    typer.echo(f"已评分 scored {table.rows} 行 → {out}")
