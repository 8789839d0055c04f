"""Credit evaluation (信用评价): indicators over the analytics snapshot, scorecards, grades, reasons, batch scoring and the model registry."""
