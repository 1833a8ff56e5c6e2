-- Finished jobs must not slow the hot path. Every claim leaves a dead entry in the ready
-- indexes (a queued job that became running), and claims walk those entries until a
-- VACUUM removes them. By default autovacuum waits for a share of the table to be dead
-- (5% here), so the more history a table keeps, the longer the dead entries pile up:
-- 100,000 of them behind every claim with 2M finished jobs. Vacuum instead after a fixed
-- number of changed rows, whatever the history, at full speed (no cost delay: the table is
-- hot, and the pages a vacuum must visit are the recently changed ones; the visibility map
-- skips the rest). See docs/architecture.md, "History and the hot path".
ALTER TABLE hourhand_jobs SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 20000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 20000
);

-- Attempts are read by job (a job's history, oldest first); nothing looks one up by its id
-- alone. One index serves both: the primary key (job_id, id), instead of a key on id and
-- an index on (job_id, id). One index entry fewer per attempt recorded.
ALTER TABLE hourhand_attempts DROP CONSTRAINT hourhand_attempts_pkey;
DROP INDEX hourhand_attempts_job;
ALTER TABLE hourhand_attempts ADD CONSTRAINT hourhand_attempts_pkey PRIMARY KEY (job_id, id);
