"""Standardized credit reports (标准化信用信息报告), the enterprise profile, self-query and region/industry aggregates."""
