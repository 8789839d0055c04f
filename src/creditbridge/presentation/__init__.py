"""Templates, message tables (中文/English) and formatting shared by the pages, the credit reports and
scoring's documents. Imports nothing of the web shell, so reports and scoring can render without it."""
