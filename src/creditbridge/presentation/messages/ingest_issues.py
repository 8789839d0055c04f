"""Why a delivered value or row was refused or warned about, as the reject report says it:
key → (中文, English). The Chinese is what the report has always said (providers and their scripts
read it); the English lets the same report be read on an English page."""

from typing import Final

MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "ingest_issue.required": ("必填字段为空", "A required field is empty"),
    "ingest_issue.date_invalid": (
        "日期 {text} 不存在（{year}年没有{month}月{day}日）",
        "The date {text} does not exist (there is no {day}/{month} in {year})",
    ),
    "ingest_issue.date_format": (
        "无法识别的日期 {text}：可用格式 2024-01-02、2024/1/2、2024年1月2日、20240102",
        "Unrecognised date {text}: write 2024-01-02, 2024/1/2, 2024年1月2日 or 20240102",
    ),
    "ingest_issue.period_invalid": (
        "月份 {text} 不存在：月份须在 1 至 12 之间",
        "The month {text} does not exist: a month is 1 to 12",
    ),
    "ingest_issue.period_format": (
        "无法识别的月份 {text}：可用格式 2024-01、2024年1月、202401",
        "Unrecognised month {text}: write 2024-01, 2024年1月 or 202401",
    ),
    "ingest_issue.amount.grouping": (
        "金额 {text} 的千分位分隔不正确（应为 1,234,567.89）",
        "The amount {text} is wrongly grouped (write 1,234,567.89)",
    ),
    "ingest_issue.amount.not_a_number": (
        "金额 {text} 不是数字",
        "The amount {text} is not a number",
    ),
    "ingest_issue.amount.not_finite": (
        "金额 {text} 不是有限数值",
        "The amount {text} is not a finite number",
    ),
    "ingest_issue.amount.negative": ("金额 {text} 为负数", "The amount {text} is negative"),
    "ingest_issue.amount.precision_fen": (
        "金额 {text} 精度超过分",
        "The amount {text} is finer than a fen",
    ),
    "ingest_issue.amount.precision_wan_yuan": (
        "金额 {text} 精度超过0.000001万元",
        "The amount {text} is finer than 0.000001 wan yuan",
    ),
    "ingest_issue.amount.unit_unknown": (
        "字段单位 {unit} 不是金额单位",
        "The field's unit {unit} is not a unit of money",
    ),
    "ingest_issue.integer.grouping": (
        "整数 {text} 的千分位分隔不正确（应为 1,234,567.89）",
        "The integer {text} is wrongly grouped (write 1,234,567)",
    ),
    "ingest_issue.integer.not_a_number": ("整数 {text} 不是数字", "{text} is not a number"),
    "ingest_issue.integer.not_whole": ("{text} 不是整数", "{text} is not a whole number"),
    "ingest_issue.decimal.grouping": (
        "数值 {text} 的千分位分隔不正确（应为 1,234,567.89）",
        "The number {text} is wrongly grouped (write 1,234,567.89)",
    ),
    "ingest_issue.decimal.not_a_number": ("数值 {text} 不是数字", "{text} is not a number"),
    "ingest_issue.not_a_number": ("{text} 不是数字", "{text} is not a number"),
    "ingest_issue.boolean": ("{text} 不是“是/否”", "{text} is not yes/no (是/否)"),
    "ingest_issue.too_long": (
        "长度 {length} 超过上限 {limit} 个字符",
        "{length} characters, more than the limit of {limit}",
    ),
    "ingest_issue.pattern": ("{text} 不符合格式要求", "{text} does not have the required form"),
    "ingest_issue.enum": (
        "{text} 不是允许的取值（{allowed}）",
        "{text} is not one of the allowed values ({allowed})",
    ),
    "ingest_issue.uscc": (
        "统一社会信用代码 {code} 无效：{reasons}",
        "The unified social credit code {code} is invalid: {reasons}",
    ),
    "ingest_issue.division": (
        "行政区划代码 {code} 不在 GB/T 2260 中",
        "The division code {code} is not in GB/T 2260",
    ),
    "ingest_issue.division_historical": (
        "行政区划代码 {code} 已撤销，现为 {successor}",
        "The division code {code} was abolished; it is now {successor}",
    ),
    "ingest_issue.industry": (
        "行业代码 {code} 不在 GB/T 4754-2017 中",
        "The industry code {code} is not in GB/T 4754-2017",
    ),
    "ingest_issue.type_unknown": ("字段类型 {kind} 未知", "Unknown field type {kind}"),
    # The batch's own rules (ingest.service.pipeline)
    "ingest_issue.withdraw_unknown": (
        "要撤销的记录（业务主键 {key}）不存在",
        "The record to withdraw (key {key}) does not exist",
    ),
    "ingest_issue.duplicate_key.same": (
        "与本批第{row}行的业务主键相同：内容相同，未重复保存",
        "Same key as row {row} of this batch: same content, not stored again",
    ),
    "ingest_issue.duplicate_key.replaces": (
        "与本批第{row}行的业务主键相同：以本行为准，第{row}行作为历史版本保留",
        "Same key as row {row} of this batch: this row wins, row {row} is kept as an earlier "
        "version",
    ),
    "ingest_issue.action": (
        "操作列只能为空（新增或更新）或“撤销”",
        "The action column must be empty (deliver or update) or “撤销” (withdraw)",
    ),
    "ingest_issue.not_assigned": (
        "记录（业务主键 {key}）只能由分配了数据项 {dataset} 的数据提供单位更新或撤销：本单位未分配该数据项",
        "The record (key {key}) may be updated or withdrawn only by a provider assigned the "
        "dataset {dataset}: this provider is not",
    ),
    "ingest_issue.threshold": (
        "拒收 {rejected} 行，占 {total} 行的 {share}，超过该数据项的拒收阈值 {threshold}："
        "整批退回，未保存任何记录。请按拒收报告更正后重新提交",
        "{rejected} of {total} rows rejected ({share}), above the dataset's reject threshold of "
        "{threshold}: the whole batch is refused and nothing was stored. Correct the rows the "
        "reject report lists and deliver again",
    ),
    # Reading the file (ingest.readers)
    "ingest_issue.file.only_header": (
        "文件只有表头，没有数据行",
        "The file has a header but no data rows",
    ),
    "ingest_issue.file.empty": ("文件为空", "The file is empty"),
    "ingest_issue.file.no_header": (
        "文件为空：没有表头和数据行",
        "The file is empty: no header and no data rows",
    ),
    "ingest_issue.file.encoding": (
        "无法识别文件编码：请保存为 UTF-8 或 GBK 编码的 CSV",
        "The file's encoding is not recognised: save it as a CSV in UTF-8 or GBK",
    ),
    "ingest_issue.file.format": (
        "不支持的文件类型 {suffix}：请提交 CSV、XLSX 或 JSON Lines 文件",
        "Unsupported file type {suffix}: deliver a CSV, XLSX or JSON Lines file",
    ),
    "ingest_issue.file.csv": (
        "第{line}行起无法按 CSV 读取：{error}",
        "From line {line} on the file cannot be read as CSV: {error}",
    ),
    "ingest_issue.header.duplicate": (
        "表头第{column}列“{text}”与前面的列对应同一字段 {code}",
        "Header column {column} “{text}” names the same field {code} as an earlier column",
    ),
    "ingest_issue.header.unknown": (
        "表头无法识别：列名须为清单中的字段代码或中文名称，例如 {examples}",
        "The header is not recognised: columns must be named by the list's field codes or "
        "Chinese labels, e.g. {examples}",
    ),
    "ingest_issue.header.missing": (
        "缺少必填列：{columns}",
        "Required columns are missing: {columns}",
    ),
    "ingest_issue.row.encoding": (
        "本行无法按 {encoding} 解码：文件中混有其他编码",
        "This row cannot be decoded as {encoding}: the file mixes encodings",
    ),
    "ingest_issue.row.width": (
        "本行有 {width} 列，表头只有 {header} 列",
        "This row has {width} columns, the header only {header}",
    ),
    "ingest_issue.row.json_invalid": (
        "不是合法的 JSON：{error}",
        "Not valid JSON: {error}",
    ),
    "ingest_issue.row.not_an_object": (
        "每行须为一个 JSON 对象",
        "Each row must be a JSON object",
    ),
    "ingest_issue.xlsx.open": (
        "无法打开 Excel 文件“{name}”：{error}",
        "The Excel file “{name}” cannot be opened: {error}",
    ),
    "ingest_issue.xlsx.unreadable": (
        "无法打开 Excel 文件：{error}",
        "The Excel file cannot be opened: {error}",
    ),
    "ingest_issue.xlsx.too_large": (
        "Excel 文件“{name}”解压后过大：{part} 为 {size} 字节，超过上限 {limit} 字节"
        "（疑似压缩炸弹），已拒收。请拆分文件或改用 CSV 提交",
        "The Excel file “{name}” expands too far: {part} is {size} bytes, above the limit of "
        "{limit} bytes (a suspected decompression bomb), so it was refused. Split the file or "
        "deliver a CSV",
    ),
    "ingest_issue.xlsx.too_large_total": (
        "Excel 文件“{name}”解压后过大：全部内容 为 {size} 字节，超过上限 {limit} 字节"
        "（疑似压缩炸弹），已拒收。请拆分文件或改用 CSV 提交",
        "The Excel file “{name}” expands too far: all its parts together are {size} bytes, above "
        "the limit of {limit} bytes (a suspected decompression bomb), so it was refused. Split "
        "the file or deliver a CSV",
    ),
    "ingest_issue.xlsx.sheet_missing": (
        "工作表“{sheet}”不存在，文件中有：{sheets}",
        "There is no sheet “{sheet}”; the file has: {sheets}",
    ),
    "ingest_issue.xlsx.chart_sheet": (
        "“{title}”是图表页，不是工作表",
        "“{title}” is a chart, not a worksheet",
    ),
    "ingest_issue.xlsx.sheet_empty": ("工作表“{title}”为空", "The sheet “{title}” is empty"),
    "ingest_issue.xlsx.formula": (
        "单元格是公式 {formula}，文件中没有保存计算结果：请在 Excel 中打开并保存，或粘贴为数值后重新提交",
        "The cell holds the formula {formula} without its computed value: open and save the file "
        "in Excel, or paste the values, and deliver again",
    ),
}
