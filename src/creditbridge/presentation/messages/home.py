"""Page strings of the home page's dashboard: key → (中文, English)."""

from typing import Final

MESSAGES: Final[dict[str, tuple[str, str]]] = {
    # Dashboard
    "dashboard.title": ("数据看板", "Dashboard"),
    "dashboard.lead": (
        "本节点归集与融资服务的实时汇总，数据直接取自平台数据库。",
        "Live totals of this node's collection and lending services, read directly from the platform database.",
    ),
    "dashboard.as_of": ("统计时间：{at}", "As of {at}"),
    "dashboard.records_table": (
        "清单各信息项归集记录数",
        "Records collected per dataset of the list",
    ),
    "dashboard.total.subjects": ("市场主体", "Enterprises"),
    "dashboard.total.records": ("归集记录", "Records collected"),
    "dashboard.total.records.hint": ("各批次入库行数合计", "rows accepted over all deliveries"),
    "dashboard.total.datasets": ("清单信息项", "Datasets in the list"),
    "dashboard.total.providers": ("数据提供单位", "Data providers"),
    "dashboard.total.institutions": ("接入机构", "Institutions"),
    "dashboard.total.products": ("金融产品", "Financial products"),
    "dashboard.total.loans": ("贷款笔数", "Loans"),
    "dashboard.by_city": ("各市市场主体数量", "Enterprises by city"),
    "dashboard.by_dataset": ("各信息项归集记录数量", "Records collected by dataset"),
    "dashboard.by_size": ("企业规模分布", "Enterprises by size"),
    "dashboard.latest_batches": ("最新归集批次", "Latest deliveries"),
    "dashboard.more_datasets": (
        "图中为记录最多的 {shown} 个信息项；全部 {n} 个见右表。",
        "The chart shows the {shown} datasets with most records; the table lists all {n}.",
    ),
    "dashboard.city": ("城市", "City"),
    "dashboard.count": ("数量", "Count"),
    "dashboard.share": ("占比", "Share"),
    "dashboard.dataset": ("信息项", "Dataset"),
    "dashboard.records": ("记录数", "Records"),
    "dashboard.size": ("规模", "Size"),
    "dashboard.no_batches": ("尚无归集批次。", "No deliveries yet."),
    "dashboard.no_records": ("尚无信用记录。", "No credit records yet."),
    "dashboard.empty.title": ("尚无数据", "No data yet"),
    "dashboard.empty.body": (
        "平台数据库中还没有市场主体和信用记录。可运行 make demo 或 creditbridge demo generate 生成演示数据，或按共享清单归集真实数据。",
        "The platform database holds no enterprises or records yet. Run make demo or creditbridge demo generate for demonstration data, or collect real data per the shared-data list.",
    ),
    "dashboard.empty.catalog": (
        "共享清单尚未载入：运行 creditbridge catalog load。",
        "The shared-data list is not loaded yet: run creditbridge catalog load.",
    ),
    "dashboard.chart_table": ("图表数据", "Chart data"),
}
