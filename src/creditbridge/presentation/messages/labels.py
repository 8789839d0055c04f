"""Labels of the list widgets several domains share (components/ui.html: filter bar, sort headers,
pagination, export, overdue badge): key → (中文, English). The names of codes shown on many pages
(tax credit grade, severity, units of counts) are in ``presentation.formatting``. Kept apart from
``common`` so the list work can grow without touching the layout's table."""

from typing import Final

MESSAGES: Final[dict[str, tuple[str, str]]] = {
    # List widgets (components/ui.html)
    "listing.filter": ("筛选", "Filter"),
    "listing.filters": ("筛选条件", "Filters"),
    "listing.reset": ("重置", "Reset"),
    "listing.all": ("全部", "All"),
    "listing.export": ("导出", "Export"),
    "listing.export_title": (
        "按当前筛选条件导出全部结果",
        "Export every row matching the current filters",
    ),
    "listing.summary": (
        "共 {total} 条 · 第 {page}/{pages} 页",
        "{total} in all · page {page} of {pages}",
    ),
    "listing.pagination": ("分页", "Pages"),
    "listing.previous": ("上一页", "Previous"),
    "listing.next": ("下一页", "Next"),
    "listing.page_n": ("第 {n} 页", "Page {n}"),
    "listing.size": ("每页", "Per page"),
    "listing.size_n": ("{n} 条/页", "{n} per page"),
    "listing.sort_by": ("按“{label}”排序", "Sort by {label}"),
    "listing.sorted_asc": ("升序", "ascending"),
    "listing.sorted_desc": ("降序", "descending"),
    "listing.overdue": ("已逾期", "Overdue"),
    "listing.overdue_days": ("逾期 {n} 天", "{n} days overdue"),
    "listing.overdue_days.one": ("逾期 1 天", "1 day overdue"),
    "listing.due_today": ("今日到期", "Due today"),
}
