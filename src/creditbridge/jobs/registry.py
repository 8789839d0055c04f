"""The platform's jobs: what each one calls, when it runs, how often it is tried.

A job is a function ``func(session, settings, args) -> summary`` that does its work in the
session it is given and flushes; the worker commits the work together with the run's
``succeeded`` status. Periodic jobs carry an APScheduler trigger (Asia/Shanghai, which has had
no daylight saving time since 1991, so a daily slot is always 24 hours after the last); one-off
jobs have none and run only when queued. Later issues register their jobs here."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]
from sqlalchemy.orm import Session

from creditbridge.core.actors import SYSTEM
from creditbridge.core.clock import SHANGHAI, utc_now
from creditbridge.core.config import Settings
from creditbridge.delivery import service as delivery_service
from creditbridge.ingest import jobs as ingest_jobs
from creditbridge.ingest import metrics
from creditbridge.jobs.domain import JobArgsInvalid, JobUnknown, Trigger
from creditbridge.marketplace import service as market_service
from creditbridge.reports import jobs as reports_jobs

JobFunc = Callable[[Session, Settings, dict[str, Any]], dict[str, Any]]
ArgsCheck = Callable[[Mapping[str, Any]], dict[str, Any]]
# Told when a run has failed for good (its last attempt failed or was lost), in the transaction
# that records it: e.g. a notice to the person who asked for the run.
FailureHook = Callable[[Session, dict[str, Any]], None]


@dataclass(frozen=True)
class JobSpec:
    """One job. ``lease_seconds`` overrides the worker's lease for a job known to run long;
    ``check_args`` turns a one-off run's arguments into what ``func`` reads, refusing the run
    when it is queued rather than when it fails; ``on_failed`` is told when the run has failed
    for good."""

    name: str
    title_zh: str
    title_en: str
    func: JobFunc
    trigger: Trigger | None = None
    max_attempts: int = 3
    lease_seconds: int | None = None
    schedule_zh: str = "按需运行"
    schedule_en: str = "on demand"
    check_args: ArgsCheck | None = None
    on_failed: FailureHook | None = None

    @property
    def periodic(self) -> bool:
        return self.trigger is not None

    def parse_args(self, args: Mapping[str, Any] | None) -> dict[str, Any]:
        given = dict(args or {})
        if self.check_args is None:
            if given:
                raise _args_invalid(self.name, next(iter(given)), "此作业不接受参数 takes none")
            return {}
        return self.check_args(given)


class Registry:
    """The jobs a worker knows, in the order the operator's page lists them."""

    def __init__(self, specs: list[JobSpec]) -> None:
        self._specs = {spec.name: spec for spec in specs}
        if len(self._specs) != len(specs):
            raise ValueError("two jobs share a name")

    def __iter__(self) -> Iterator[JobSpec]:
        return iter(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def names(self) -> list[str]:
        return list(self._specs)

    def periodic(self) -> list[JobSpec]:
        return [spec for spec in self._specs.values() if spec.periodic]

    def get_or_raise(self, name: str) -> JobSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise JobUnknown(
                f"没有名为“{name}”的作业", key="error.jobs.unknown", params={"name": name}
            ) from None


# --- What a running job may know about its run ---------------------------------------------


@dataclass(frozen=True)
class RunContext:
    run_id: int
    job: str
    slot: datetime | None
    attempt: int


CURRENT_RUN: ContextVar[RunContext | None] = ContextVar("creditbridge_job_run", default=None)
"""Set by the worker around a job's call: the slot a daily job is about and the attempt a
retried job is on, without widening every job's signature."""


def current_run() -> RunContext | None:
    return CURRENT_RUN.get()


def _slot_or_now() -> datetime:
    run = current_run()
    return run.slot if run is not None and run.slot is not None else utc_now()


# --- Argument checks -----------------------------------------------------------------------


def _args_invalid(job: str, name: str, reason: str) -> JobArgsInvalid:
    return JobArgsInvalid(
        f"作业 {job} 的参数 {name} 无效：{reason}",
        key="error.jobs.args",
        params={"job": job, "name": name, "reason": reason},
    )


def _only(job: str, given: Mapping[str, Any], allowed: set[str]) -> None:
    for name in given:
        if name not in allowed:
            raise _args_invalid(job, name, "不是此作业的参数 not an argument of this job")


def _date_arg(job: str, given: Mapping[str, Any], name: str) -> str | None:
    value = given.get(name)
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise _args_invalid(job, name, "须为 YYYY-MM-DD 日期 must be a date") from None


def _number_arg(job: str, given: Mapping[str, Any], name: str, default: float) -> float:
    value = given.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3600:
        raise _args_invalid(job, name, "须为 0 至 3600 之间的秒数 must be seconds in [0, 3600]")
    return float(value)


def _bool_arg(job: str, given: Mapping[str, Any], name: str) -> bool:
    value = given.get(name, False)
    if not isinstance(value, bool):
        raise _args_invalid(job, name, "须为 true 或 false must be a boolean")
    return value


# --- The jobs ------------------------------------------------------------------------------


def _sweep_args(given: Mapping[str, Any]) -> dict[str, Any]:
    _only("marketplace.sweep", given, {"today"})
    today = _date_arg("marketplace.sweep", given, "today")
    return {} if today is None else {"today": today}


def marketplace_sweep(session: Session, settings: Settings, args: dict[str, Any]) -> dict[str, Any]:
    """Response deadlines of the marketplace (see ``marketplace.service.sweep``)."""
    today = date.fromisoformat(args["today"]) if args.get("today") else None
    result = market_service.sweep(
        session, SYSTEM, today=today, response_days=settings.market_response_days
    )
    return {
        "expired": result.expired,
        "reassigned": result.reassigned,
        "pooled": result.pooled,
        "escalated": result.escalated,
    }


def _metrics_args(given: Mapping[str, Any]) -> dict[str, Any]:
    job = "collection.metrics"
    _only(job, given, {"month", "as_of", "keep_snapshot"})
    clean: dict[str, Any] = {}
    if given.get("month") is not None:
        clean["month"] = metrics.month_text(metrics.parse_month(str(given["month"])))
    as_of = _date_arg(job, given, "as_of")
    if as_of is not None:
        clean["as_of"] = as_of
    if _bool_arg(job, given, "keep_snapshot"):
        clean["keep_snapshot"] = True
    return clean


def collection_metrics(
    session: Session, settings: Settings, args: dict[str, Any]
) -> dict[str, Any]:
    """A month's collection metrics: by default the month before the slot's, in Beijing time."""
    as_of = metrics.as_of_datetime(date.fromisoformat(args["as_of"])) if "as_of" in args else None
    if args.get("keep_snapshot"):
        # Keeping the Parquet snapshot is for an operator looking into a figure; it needs the
        # month named, as the command that asks for it does.
        outcome = metrics.compute_collection_metrics(
            session, month=args["month"], settings=settings, as_of=as_of, keep_snapshot=True
        )
    else:
        outcome = ingest_jobs.compute_collection_metrics(
            session,
            settings=settings,
            month=args.get("month"),
            as_of=as_of or (None if "month" in args else _slot_or_now()),
        )
    return {
        "month": outcome.month,
        "rows": outcome.rows,
        "batches": outcome.batches,
        "as_of": outcome.as_of.isoformat(),
        "snapshot_folder": None
        if outcome.snapshot_folder is None
        else str(outcome.snapshot_folder),
    }


def _feed_files_args(given: Mapping[str, Any]) -> dict[str, Any]:
    job = "delivery.feed_files"
    _only(job, given, {"day", "fmt", "encoding"})
    clean: dict[str, Any] = {}
    day = _date_arg(job, given, "day")
    if day is not None:
        clean["day"] = day
    if "fmt" in given:
        if given["fmt"] not in ("jsonl", "csv"):
            raise _args_invalid(job, "fmt", "须为 jsonl 或 csv")
        clean["fmt"] = given["fmt"]
    if "encoding" in given:
        if given["encoding"] not in ("utf-8", "gbk"):
            raise _args_invalid(job, "encoding", "须为 utf-8 或 gbk")
        clean["encoding"] = given["encoding"]
    return clean


def feed_files(session: Session, settings: Settings, args: dict[str, Any]) -> dict[str, Any]:
    """The nightly event files of the day before the slot (Beijing), for institutions that
    ingest files at night. A retry after midnight still writes the slot's day."""
    if "day" in args:
        day = date.fromisoformat(args["day"])
    else:
        day = _slot_or_now().astimezone(SHANGHAI).date() - timedelta(days=1)
    paths = delivery_service.write_feed_files(
        session,
        settings,
        day=day,
        fmt=args.get("fmt", "jsonl"),
        encoding=args.get("encoding", "utf-8"),
    )
    return {"day": day.isoformat(), "files": [str(path) for path in paths]}


def retention(session: Session, settings: Settings, args: dict[str, Any]) -> dict[str, Any]:
    """Outbox messages past the feed retention, with their finished deliveries."""
    return {"purged": delivery_service.purge_expired(session, settings)}


def run_retention(session: Session, settings: Settings, args: dict[str, Any]) -> dict[str, Any]:
    """The worker's own records: finished runs older than the retention, each job's newest kept."""
    # Imported here: the service imports this registry to know the jobs.
    from creditbridge.jobs import service as jobs_service

    return {"purged": jobs_service.purge_finished_runs(session, now=_slot_or_now())}


def _selftest_args(given: Mapping[str, Any]) -> dict[str, Any]:
    job = "jobs.selftest"
    _only(job, given, {"seconds", "fail", "seconds_on_retry"})
    clean: dict[str, Any] = {
        "seconds": _number_arg(job, given, "seconds", 0.0),
        "fail": _bool_arg(job, given, "fail"),
    }
    if "seconds_on_retry" in given:
        clean["seconds_on_retry"] = _number_arg(job, given, "seconds_on_retry", 0.0)
    return clean


class SelftestFailed(RuntimeError):
    """What ``jobs.selftest`` raises when asked to fail: a job's failure as the worker sees it."""


def selftest(session: Session, settings: Settings, args: dict[str, Any]) -> dict[str, Any]:
    """Sleeps, then succeeds or fails as asked: lets an operator see that a worker runs jobs,
    and lets the fault tests kill a worker in the middle of one (``seconds_on_retry`` keeps the
    second try short)."""
    run = current_run()
    attempt = run.attempt if run is not None else 1
    seconds = args.get("seconds", 0.0)
    if attempt > 1 and "seconds_on_retry" in args:
        seconds = args["seconds_on_retry"]
    time.sleep(seconds)
    if args.get("fail"):
        raise SelftestFailed(f"自检作业按要求失败 selftest failed as asked (attempt {attempt})")
    return {"slept": seconds, "attempt": attempt}


def _reports_args(job: str, check: ArgsCheck) -> ArgsCheck:
    """Reports checks its own jobs' arguments; a refusal reads as every other job's."""

    def checked(given: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return check(given)
        except ValueError as exc:
            raise _args_invalid(job, "args", str(exc)) from None

    return checked


# A fixed anchor makes the five-minute slots the same for every worker (IntervalTrigger would
# otherwise count from the moment it is built).
_ANCHOR = datetime(2020, 1, 1, tzinfo=SHANGHAI)


def _daily(hour: int, minute: int) -> Trigger:
    trigger: Trigger = CronTrigger(hour=hour, minute=minute, timezone=SHANGHAI)
    return trigger


REGISTRY = Registry(
    [
        JobSpec(
            name="marketplace.sweep",
            title_zh="融资对接响应时限处理",
            title_en="Marketplace response deadlines",
            func=marketplace_sweep,
            trigger=IntervalTrigger(minutes=5, start_date=_ANCHOR, timezone=SHANGHAI),
            schedule_zh="每 5 分钟",
            schedule_en="every 5 minutes",
            check_args=_sweep_args,
        ),
        JobSpec(
            name="collection.metrics",
            title_zh="计算归集指标",
            title_en="Collection metrics",
            func=collection_metrics,
            trigger=_daily(2, 0),
            schedule_zh="每天 02:00（北京时间）",
            schedule_en="daily at 02:00 Beijing time",
            lease_seconds=1800,
            check_args=_metrics_args,
        ),
        JobSpec(
            name="delivery.feed_files",
            title_zh="生成夜间事件文件",
            title_en="Nightly feed files",
            func=feed_files,
            trigger=_daily(1, 30),
            schedule_zh="每天 01:30（北京时间）",
            schedule_en="daily at 01:30 Beijing time",
            check_args=_feed_files_args,
        ),
        JobSpec(
            name="delivery.retention",
            title_zh="清理过期发件箱消息",
            title_en="Outbox retention",
            func=retention,
            trigger=_daily(3, 0),
            schedule_zh="每天 03:00（北京时间）",
            schedule_en="daily at 03:00 Beijing time",
        ),
        JobSpec(
            name="jobs.retention",
            title_zh="清理过期作业记录",
            title_en="Job run retention",
            func=run_retention,
            trigger=_daily(3, 30),
            schedule_zh="每天 03:30（北京时间，保留 90 天）",
            schedule_en="daily at 03:30 Beijing time (kept 90 days)",
        ),
        JobSpec(
            name="jobs.selftest",
            title_zh="工作进程自检",
            title_en="Worker self-test",
            func=selftest,
            check_args=_selftest_args,
        ),
        JobSpec(
            name=reports_jobs.AGGREGATES_JOB,
            title_zh="重新计算区域行业信用统计",
            title_en="Recompute the credit aggregates",
            func=reports_jobs.run_aggregates,
            # One try more at most: a recomputation that failed twice needs a look, not a loop.
            max_attempts=2,
            lease_seconds=1800,
            check_args=_reports_args(reports_jobs.AGGREGATES_JOB, reports_jobs.aggregates_args),
        ),
        JobSpec(
            name=reports_jobs.PDF_JOB,
            title_zh="生成信用报告 PDF（完成后通知）",
            title_en="Credit report PDF (notice when ready)",
            func=reports_jobs.run_pdf,
            max_attempts=2,
            check_args=_reports_args(reports_jobs.PDF_JOB, reports_jobs.pdf_args),
            # The requester waits for a notice: a run that failed for good still sends one.
            on_failed=reports_jobs.pdf_failed,
        ),
    ]
)
