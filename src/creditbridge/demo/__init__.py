"""The synthetic province: deterministic generation of subjects, records, providers, institutions,
products and loans, driven by a hidden per-subject risk whose truth is kept apart."""
