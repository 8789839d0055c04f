"""Page strings of the operator's worker desk — scheduled jobs, their runs, the outbox's
deliveries — and of /metrics: key → (中文, English)."""

from typing import Final

MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "feature.jobs": ("后台作业", "Scheduled jobs"),
    "feature.jobs.desc": (
        "后台作业的计划、最近运行、失败和重试；可立即运行某项作业。",
        "The worker's schedule, recent runs, failures and retries; run a job now.",
    ),
    "feature.deliveries": ("消息投递", "Outbound deliveries"),
    "feature.deliveries.desc": (
        "发件箱中待投递、投递中、已送达、失败和已放弃的消息，覆盖全部机构。",
        "Messages of the outbox queued, sending, delivered, failed and given up, for every "
        "institution.",
    ),
    # The jobs page
    "jobs.title": ("后台作业", "Scheduled jobs"),
    "jobs.lead": (
        "工作进程（creditbridge worker）按计划运行以下作业；每次运行、每次尝试都有记录，失败的作业按退避间隔重试，最后一次仍失败即标为失败。",
        "The worker (creditbridge worker) runs these jobs on their schedule. Every run and every "
        "attempt is recorded; a failing job is retried with back-off and marked failed after its "
        "last try.",
    ),
    "jobs.schedule": ("作业计划", "Schedule"),
    "jobs.job": ("作业", "Job"),
    "jobs.when": ("计划", "Schedule"),
    "jobs.on_demand": ("按需运行", "On demand"),
    "jobs.next_run": ("下次运行", "Next run"),
    "jobs.last_run": ("最近运行", "Last run"),
    "jobs.never": ("尚未运行", "Never run"),
    "jobs.run_now": ("立即运行", "Run now"),
    "jobs.queued_now": (
        "作业 {job} 已加入队列（运行 #{id}），工作进程将尽快执行。",
        "Job {job} is queued (run #{id}); the worker runs it shortly.",
    ),
    "jobs.runs": ("最近运行", "Recent runs"),
    "jobs.runs_none": ("还没有运行记录。", "No run recorded yet."),
    "jobs.failures": ("失败 {n} 次", "{n} failed"),
    "jobs.failures.one": ("失败 1 次", "1 failed"),
    "jobs.run": ("运行", "Run"),
    "jobs.slot": ("计划时点", "Slot"),
    "jobs.requested_by": ("发起", "Requested by"),
    "jobs.status": ("状态", "Status"),
    "jobs.attempts": ("尝试", "Attempts"),
    "jobs.created_at": ("创建时间", "Created"),
    "jobs.finished_at": ("结束时间", "Finished"),
    "jobs.run_after": ("可运行时间", "Due"),
    "jobs.error": ("错误", "Error"),
    "jobs.attempt_list": ("各次尝试", "Attempts"),
    "jobs.worker": ("执行进程", "Worker"),
    "jobs.filter_job": ("按作业筛选", "Filter by job"),
    "jobs.filter_status": ("按状态筛选", "Filter by status"),
    "jobs.filter_all": ("全部", "All"),
    "jobs.filter": ("筛选", "Filter"),
    "job_status.queued": ("排队中", "Queued"),
    "job_status.running": ("运行中", "Running"),
    "job_status.retrying": ("等待重试", "Retrying"),
    "job_status.succeeded": ("成功", "Succeeded"),
    "job_status.failed": ("失败", "Failed"),
    "job_outcome.succeeded": ("成功", "Succeeded"),
    "job_outcome.failed": ("失败", "Failed"),
    "job_outcome.lost": ("进程中断", "Lost (worker died)"),
    # The deliveries page
    "jobs.deliveries_title": ("消息投递", "Outbound deliveries"),
    "jobs.deliveries_lead": (
        "离开本节点的每条消息先写入发件箱，提交后由工作进程投递到各机构登记的回调地址；失败的按约三天的计划重试，仍失败即放弃。",
        "Every message leaving this node is written to the outbox and, after commit, sent by "
        "the worker to the endpoints institutions registered. Failures are retried for about "
        "three days, then given up.",
    ),
    "jobs.oldest_pending": ("最早待投递已等待", "Oldest queued waiting"),
    "jobs.oldest_pending_hint": ("秒", "seconds"),
    "jobs.oldest_pending_none": ("无待投递消息", "nothing queued"),
    "jobs.recent_deliveries": ("最近投递（全部机构）", "Recent deliveries (every institution)"),
    # Refusals of the job queue (creditbridge.jobs.domain)
    "error.CB-JOB-UNKNOWN": ("没有这个作业", "No such job"),
    "error.CB-JOB-ARGS": ("作业参数无效", "Invalid job arguments"),
    "error.jobs.unknown": ("没有名为“{name}”的作业", "There is no job named “{name}”"),
    "error.jobs.args": (
        "作业 {job} 的参数 {name} 无效：{reason}",
        "Argument {name} of job {job} is invalid: {reason}",
    ),
    "error.jobs.operator_only": (
        "只有平台运营人员或系统管理员可以运行作业",
        "Only the platform's operators and system administrators run jobs",
    ),
    "audit_action.job.enqueue": ("作业加入队列", "Job queued"),
    # /metrics
    "error.metrics.unauthenticated": (
        "请登录，或使用配置的令牌（Authorization: Bearer）抓取指标",
        "Log in, or present the configured token (Authorization: Bearer) to scrape the metrics",
    ),
    "error.metrics.forbidden": (
        "只有运营人员和系统、安全、审计管理员可以查看指标",
        "Only operators and the system, security and audit administrators see the metrics",
    ),
}
