"""Page strings of credit evaluation: key → (中文, English)."""

from typing import Final

MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "access_item.credit_score": (
        "信用评价（评分、等级与原因）",
        "Credit evaluation (score, grade, reasons)",
    ),
    "feature.scoring_mine": ("我的信用评价", "My credit score"),
    "feature.scoring_mine.desc": (
        "本企业的信用分、等级、扣分原因和提升建议（信用培育）。",
        "Your score, grade, the reasons behind it and what would raise it.",
    ),
    "feature.scoring_lookup": ("企业信用评价查询", "Credit score lookup"),
    "feature.scoring_lookup.desc": (
        "凭企业授权查询其信用分、等级与原因。",
        "An enterprise's score, grade and reasons, under its consent.",
    ),
    "feature.scoring_overview": ("信用评价", "Credit evaluation"),
    "feature.scoring_overview.desc": (
        "全省企业信用等级分布（按城市、行业）、模型库与验证报告。",
        "Grades across the province by city and industry, the model registry and validation reports.",
    ),
    "scoring.title.mine": ("我的信用评价", "My credit score"),
    "scoring.title.lookup": ("企业信用评价查询", "Credit score lookup"),
    "scoring.title.overview": ("信用评价总览", "Credit evaluation overview"),
    "scoring.title.model": ("模型验证报告", "Model validation report"),
}
