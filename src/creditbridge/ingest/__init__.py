"""Collection (归集): providers, their deliveries (batches), validation, reject reports and the
collection-rate metrics."""
