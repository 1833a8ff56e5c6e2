-- Job statistics kept as jobs finish, so that counts and rates never scan the history.

-- One row per (minute, queue, job type, shard), added to in the transaction of each state
-- change that ends an attempt or a job. The shard comes from the worker's id, so that two
-- workers finishing jobs of one type in the same minute do not wait for each other's row
-- lock. Rows older than two days are folded into one row per (queue, job type) at the
-- epoch, shard 0 (compact_stats): totals never change, and the table stays small.
CREATE TABLE hourhand_job_stats (
    minute timestamptz NOT NULL,
    queue text NOT NULL,
    name text NOT NULL,
    shard smallint NOT NULL,
    completed bigint NOT NULL DEFAULT 0,  -- attempts that completed
    failed bigint NOT NULL DEFAULT 0,  -- attempts that failed, timed out or were lost
    dead bigint NOT NULL DEFAULT 0,  -- jobs that entered the failed state
    cancelled bigint NOT NULL DEFAULT 0,  -- jobs that ended cancelled
    duration_sum double precision NOT NULL DEFAULT 0,  -- seconds, completed + failed
    -- attempt durations per bucket (not cumulative), upper bounds in seconds:
    b0 bigint NOT NULL DEFAULT 0,  -- 0.01
    b1 bigint NOT NULL DEFAULT 0,  -- 0.05
    b2 bigint NOT NULL DEFAULT 0,  -- 0.1
    b3 bigint NOT NULL DEFAULT 0,  -- 0.5
    b4 bigint NOT NULL DEFAULT 0,  -- 1
    b5 bigint NOT NULL DEFAULT 0,  -- 5
    b6 bigint NOT NULL DEFAULT 0,  -- 10
    b7 bigint NOT NULL DEFAULT 0,  -- 30
    b8 bigint NOT NULL DEFAULT 0,  -- 60
    b9 bigint NOT NULL DEFAULT 0,  -- 300
    b10 bigint NOT NULL DEFAULT 0,  -- 1800
    b11 bigint NOT NULL DEFAULT 0,  -- +Inf
    CONSTRAINT hourhand_job_stats_pkey PRIMARY KEY (minute, queue, name, shard)
);

-- The dead-letter set alone, for its count (hourhand_jobs_dead also holds cancelled jobs,
-- which are history).
CREATE INDEX hourhand_jobs_failed ON hourhand_jobs (id) WHERE state = 'failed';

-- What the history already holds becomes the starting totals.
INSERT INTO hourhand_job_stats (minute, queue, name, shard, completed, dead, cancelled)
SELECT 'epoch', queue, name, 0, count(*) FILTER (WHERE state = 'completed'),
       count(*) FILTER (WHERE state = 'failed'), count(*) FILTER (WHERE state = 'cancelled')
FROM hourhand_jobs WHERE state IN ('completed', 'failed', 'cancelled')
GROUP BY queue, name;
WITH a AS (
    SELECT j.queue, j.name, a.outcome, a.duration
    FROM hourhand_attempts a JOIN hourhand_jobs j ON j.id = a.job_id
    WHERE a.outcome IN ('failed', 'timeout', 'lost')
       OR (a.outcome = 'completed' AND a.duration IS NOT NULL)
)
INSERT INTO hourhand_job_stats AS s (minute, queue, name, shard, failed, duration_sum,
    b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11)
SELECT 'epoch', queue, name, 0, count(*) FILTER (WHERE outcome <> 'completed'),
       coalesce(sum(duration), 0),
       count(*) FILTER (WHERE duration <= 0.01),
       count(*) FILTER (WHERE duration > 0.01 AND duration <= 0.05),
       count(*) FILTER (WHERE duration > 0.05 AND duration <= 0.1),
       count(*) FILTER (WHERE duration > 0.1 AND duration <= 0.5),
       count(*) FILTER (WHERE duration > 0.5 AND duration <= 1),
       count(*) FILTER (WHERE duration > 1 AND duration <= 5),
       count(*) FILTER (WHERE duration > 5 AND duration <= 10),
       count(*) FILTER (WHERE duration > 10 AND duration <= 30),
       count(*) FILTER (WHERE duration > 30 AND duration <= 60),
       count(*) FILTER (WHERE duration > 60 AND duration <= 300),
       count(*) FILTER (WHERE duration > 300 AND duration <= 1800),
       count(*) FILTER (WHERE duration > 1800)
FROM a GROUP BY queue, name
ON CONFLICT (minute, queue, name, shard) DO UPDATE
SET failed = excluded.failed, duration_sum = excluded.duration_sum,
    b0 = excluded.b0, b1 = excluded.b1, b2 = excluded.b2, b3 = excluded.b3,
    b4 = excluded.b4, b5 = excluded.b5, b6 = excluded.b6, b7 = excluded.b7,
    b8 = excluded.b8, b9 = excluded.b9, b10 = excluded.b10, b11 = excluded.b11;

-- Compaction's mark: the minutes before it are counted in the totals at the epoch (their
-- rows stay, for the per-minute series, until they are two days old), so totals read the
-- epoch's rows and the minutes from the mark on, never two days of minutes.
CREATE TABLE hourhand_stats_mark (
    id integer PRIMARY KEY CHECK (id = 1),
    upto timestamptz NOT NULL
);
INSERT INTO hourhand_stats_mark (id, upto) VALUES (1, 'epoch');
