-- Job statistics kept as jobs finish, so that counts and rates never scan the history.

-- One row per (minute, queue, job type, shard), added to in the transaction of each state
-- change that ends an attempt or a job. SQLite has one writer at a time: shard is always 0.
-- minute: Unix seconds of the minute's start. Rows older than two days are folded into
-- one row per (queue, job type) at minute 0 (compact_stats): totals never change, and the
-- table stays small.
CREATE TABLE hourhand_job_stats (
    minute REAL NOT NULL,
    queue TEXT NOT NULL,
    name TEXT NOT NULL,
    shard INTEGER NOT NULL,
    completed INTEGER NOT NULL DEFAULT 0,  -- attempts that completed
    failed INTEGER NOT NULL DEFAULT 0,  -- attempts that failed, timed out or were lost
    dead INTEGER NOT NULL DEFAULT 0,  -- jobs that entered the failed state
    cancelled INTEGER NOT NULL DEFAULT 0,  -- jobs that ended cancelled
    duration_sum REAL NOT NULL DEFAULT 0,  -- seconds, completed + failed
    -- attempt durations per bucket (not cumulative), upper bounds in seconds:
    b0 INTEGER NOT NULL DEFAULT 0,  -- 0.01
    b1 INTEGER NOT NULL DEFAULT 0,  -- 0.05
    b2 INTEGER NOT NULL DEFAULT 0,  -- 0.1
    b3 INTEGER NOT NULL DEFAULT 0,  -- 0.5
    b4 INTEGER NOT NULL DEFAULT 0,  -- 1
    b5 INTEGER NOT NULL DEFAULT 0,  -- 5
    b6 INTEGER NOT NULL DEFAULT 0,  -- 10
    b7 INTEGER NOT NULL DEFAULT 0,  -- 30
    b8 INTEGER NOT NULL DEFAULT 0,  -- 60
    b9 INTEGER NOT NULL DEFAULT 0,  -- 300
    b10 INTEGER NOT NULL DEFAULT 0,  -- 1800
    b11 INTEGER NOT NULL DEFAULT 0,  -- +Inf
    PRIMARY KEY (minute, queue, name, shard)
);

-- The dead-letter set alone, for its count (hourhand_jobs_dead also holds cancelled jobs,
-- which are history).
CREATE INDEX hourhand_jobs_failed ON hourhand_jobs (id) WHERE state = 'failed';

-- What the history already holds becomes the starting totals.
INSERT INTO hourhand_job_stats (minute, queue, name, shard, completed, dead, cancelled)
SELECT 0, queue, name, 0, sum(state = 'completed'), sum(state = 'failed'),
       sum(state = 'cancelled')
FROM hourhand_jobs WHERE state IN ('completed', 'failed', 'cancelled')
GROUP BY queue, name;
INSERT INTO hourhand_job_stats (minute, queue, name, shard, failed, duration_sum,
    b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11)
SELECT 0, j.queue, j.name, 0, sum(a.outcome <> 'completed'), coalesce(sum(a.duration), 0),
       sum(a.duration <= 0.01),
       sum(a.duration > 0.01 AND a.duration <= 0.05),
       sum(a.duration > 0.05 AND a.duration <= 0.1),
       sum(a.duration > 0.1 AND a.duration <= 0.5),
       sum(a.duration > 0.5 AND a.duration <= 1),
       sum(a.duration > 1 AND a.duration <= 5),
       sum(a.duration > 5 AND a.duration <= 10),
       sum(a.duration > 10 AND a.duration <= 30),
       sum(a.duration > 30 AND a.duration <= 60),
       sum(a.duration > 60 AND a.duration <= 300),
       sum(a.duration > 300 AND a.duration <= 1800),
       sum(a.duration > 1800)
FROM hourhand_attempts a JOIN hourhand_jobs j ON j.id = a.job_id
WHERE a.outcome IN ('failed', 'timeout', 'lost')
   OR (a.outcome = 'completed' AND a.duration IS NOT NULL)
GROUP BY j.queue, j.name
ON CONFLICT (minute, queue, name, shard) DO UPDATE
SET failed = excluded.failed, duration_sum = excluded.duration_sum,
    b0 = excluded.b0, b1 = excluded.b1, b2 = excluded.b2, b3 = excluded.b3,
    b4 = excluded.b4, b5 = excluded.b5, b6 = excluded.b6, b7 = excluded.b7,
    b8 = excluded.b8, b9 = excluded.b9, b10 = excluded.b10, b11 = excluded.b11;

-- Compaction's mark: the minutes before it are counted in the totals at minute 0 (their
-- rows stay, for the per-minute series, until they are two days old), so totals read
-- minute 0 and the minutes from the mark on, never two days of minutes.
CREATE TABLE hourhand_stats_mark (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    upto REAL NOT NULL
);
INSERT INTO hourhand_stats_mark (id, upto) VALUES (1, 0);
