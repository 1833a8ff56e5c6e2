-- 0002: recurring schedules (from code, the config file, or users at runtime).

CREATE TABLE hourhand_schedules (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    org_id text,  -- user schedules belong to an organisation; code/config ones to none
    source text NOT NULL,  -- code | config | user
    job text NOT NULL,  -- the job type it enqueues
    args jsonb NOT NULL DEFAULT '{}',
    cron text NOT NULL,
    tz text NOT NULL DEFAULT 'UTC',
    enabled boolean NOT NULL DEFAULT true,
    queue text,
    priority integer,
    max_attempts integer,
    timeout double precision,
    misfire text NOT NULL DEFAULT 'skip',  -- skip | once | all
    misfire_cap integer NOT NULL DEFAULT 100,  -- 'all': at most this many catch-up runs
    catchup_window double precision NOT NULL DEFAULT 86400,  -- 'all': seconds caught up
    overlap text NOT NULL DEFAULT 'skip',  -- allow | skip | queue
    jitter double precision NOT NULL DEFAULT 0,  -- seconds of random delay per run
    created_by text,
    next_fire_at timestamptz,  -- null while disabled
    last_fire_at timestamptz,
    last_job_id bigint,
    last_status text,
    last_duration double precision,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX hourhand_schedules_name ON hourhand_schedules (coalesce(org_id, ''), name);
CREATE INDEX hourhand_schedules_due ON hourhand_schedules (next_fire_at) WHERE enabled;
-- A schedule's jobs, for its overlap policy and its runs.
CREATE INDEX hourhand_jobs_schedule ON hourhand_jobs (schedule_id, id)
    WHERE schedule_id IS NOT NULL;
