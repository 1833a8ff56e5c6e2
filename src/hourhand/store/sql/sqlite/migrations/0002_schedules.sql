-- 0002: recurring schedules (from code, the config file, or users at runtime).

CREATE TABLE hourhand_schedules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    org_id TEXT,  -- user schedules belong to an organisation; code/config ones to none
    source TEXT NOT NULL,  -- code | config | user
    job TEXT NOT NULL,  -- the job type it enqueues
    args TEXT NOT NULL DEFAULT '{}',
    cron TEXT NOT NULL,
    tz TEXT NOT NULL DEFAULT 'UTC',
    enabled INTEGER NOT NULL DEFAULT 1,
    queue TEXT,
    priority INTEGER,
    max_attempts INTEGER,
    timeout REAL,
    misfire TEXT NOT NULL DEFAULT 'skip',  -- skip | once | all
    misfire_cap INTEGER NOT NULL DEFAULT 100,  -- 'all': at most this many catch-up runs
    catchup_window REAL NOT NULL DEFAULT 86400,  -- 'all': seconds back that are caught up
    overlap TEXT NOT NULL DEFAULT 'skip',  -- allow | skip | queue
    jitter REAL NOT NULL DEFAULT 0,  -- seconds of random delay per run
    created_by TEXT,
    next_fire_at REAL,  -- null while disabled
    last_fire_at REAL,
    last_job_id INTEGER,
    last_status TEXT,
    last_duration REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE UNIQUE INDEX hourhand_schedules_name ON hourhand_schedules (coalesce(org_id, ''), name);
CREATE INDEX hourhand_schedules_due ON hourhand_schedules (next_fire_at) WHERE enabled = 1;
-- A schedule's jobs, for its overlap policy and its runs.
CREATE INDEX hourhand_jobs_schedule ON hourhand_jobs (schedule_id, id)
    WHERE schedule_id IS NOT NULL;
