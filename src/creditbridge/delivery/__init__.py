"""Everything that leaves the node: the one transactional outbox, institutions' webhook endpoints and
their signed deliveries with retries and replay, and the resumable event feeds and nightly files."""
