"""The worker: periodic jobs on a schedule and queued one-off jobs, each run claimed by one worker,
retried with back-off, and recorded attempt by attempt."""
