"""The audit trail (审计日志): every change and every data access, appended in the same transaction
as the act, chained with SM3 so that an edited, deleted or truncated event is found by ``verify``."""
