-- Hand-backs counted apart from attempts; the lease set exactly while a job runs (the fence
-- that statements on running jobs test, so their plans never depend on the running index);
-- autovacuum tuned for a table whose rows change state all the time.
ALTER TABLE hourhand_jobs ADD COLUMN handbacks integer NOT NULL DEFAULT 0;
ALTER TABLE hourhand_jobs ADD CONSTRAINT hourhand_jobs_lease
    CHECK ((state = 'running') = (lease_expires_at IS NOT NULL));
ALTER TABLE hourhand_jobs SET (autovacuum_vacuum_scale_factor = 0.05,
                               autovacuum_analyze_scale_factor = 0.02);
