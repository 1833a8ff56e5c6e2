-- hourhand schema for PostgreSQL.
-- Must equal the result of applying every file in migrations/ in order (tested).

CREATE TABLE hourhand_jobs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue text NOT NULL,
    name text NOT NULL,
    args jsonb NOT NULL DEFAULT '{}',
    state text NOT NULL,
    priority integer NOT NULL DEFAULT 0,
    attempt integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL,
    run_at timestamptz NOT NULL,
    timeout double precision,
    unique_key text,
    org_id text,
    created_by text,
    schedule_id bigint,
    fire_time timestamptz,
    progress double precision,
    progress_message text,
    result jsonb,
    error text,
    worker_id text,
    lease_expires_at timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    handbacks integer NOT NULL DEFAULT 0,  -- attempts handed back at shutdown (not counted)
    -- A lease is held exactly while the job runs: statements on running jobs fence on it.
    CONSTRAINT hourhand_jobs_lease CHECK ((state = 'running') = (lease_expires_at IS NOT NULL))
) WITH (
    -- vacuum and analyze after a fixed number of changed rows, whatever the history kept
    -- (migration 0006 says why)
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 20000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 20000
);

-- Ready work, in claim order, per queue and across queues.
CREATE INDEX hourhand_jobs_ready ON hourhand_jobs (queue, priority DESC, run_at, id)
    WHERE state = 'queued';
CREATE INDEX hourhand_jobs_ready_any ON hourhand_jobs (priority DESC, run_at, id)
    WHERE state = 'queued';
-- Scheduled and retrying jobs, by when they become due.
CREATE INDEX hourhand_jobs_due ON hourhand_jobs (run_at)
    WHERE state IN ('scheduled', 'retrying');
-- Running jobs: per-type concurrency counts; lease expiry scans these few rows. The
-- lease is not indexed, so a heartbeat can update in place (HOT on PostgreSQL).
CREATE INDEX hourhand_jobs_running ON hourhand_jobs (name) WHERE state = 'running';
-- The dead-letter set (and cancelled jobs), newest first; other listings walk the
-- primary key or the partial indexes above. (A full (state, id) index would add an index
-- entry to every state change.)
CREATE INDEX hourhand_jobs_dead ON hourhand_jobs (id) WHERE state IN ('failed', 'cancelled');
-- A unique key is held while a job with it waits or runs.
CREATE UNIQUE INDEX hourhand_jobs_unique
    ON hourhand_jobs (name, coalesce(org_id, ''), unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'queued', 'running', 'retrying');
-- A schedule's fire time becomes exactly one job.
CREATE UNIQUE INDEX hourhand_jobs_fire ON hourhand_jobs (schedule_id, fire_time)
    WHERE schedule_id IS NOT NULL;

CREATE TABLE hourhand_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY,
    job_id bigint NOT NULL,  -- no foreign key: its check costs a quarter of a completion
    attempt integer NOT NULL,
    worker_id text,
    started_at timestamptz,
    finished_at timestamptz NOT NULL,
    outcome text NOT NULL,
    duration double precision,
    error text,
    traceback text,
    -- read by job, oldest first; one index for both (migration 0006)
    CONSTRAINT hourhand_attempts_pkey PRIMARY KEY (job_id, id)
);

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
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- enabled = coalesce(enabled_override, defined_enabled): what the code, config file or
    -- user defines, and an operator's enable/disable of a code or config schedule
    defined_enabled boolean NOT NULL DEFAULT true,
    enabled_override boolean,
    disabled_at timestamptz,  -- disabled since, until its fire times are in the ledger
    overrides jsonb NOT NULL DEFAULT '{}'  -- an operator's edits of a config schedule
);
CREATE UNIQUE INDEX hourhand_schedules_name ON hourhand_schedules (coalesce(org_id, ''), name);
CREATE INDEX hourhand_schedules_due ON hourhand_schedules (next_fire_at) WHERE enabled;
-- A schedule's jobs, for its overlap policy and its runs.
CREATE INDEX hourhand_jobs_schedule ON hourhand_jobs (schedule_id, id)
    WHERE schedule_id IS NOT NULL;

-- The starts of rate-limited job types: a row per claim that started jobs of such a type,
-- kept for the type's period (its claims delete older rows). Each row carries the limit in
-- force, so that `jobs show` can tell a job waiting on it without the app's code.
CREATE TABLE hourhand_rate_starts (
    name text NOT NULL,
    started_at timestamptz NOT NULL,
    starts integer NOT NULL,
    max_starts integer NOT NULL,
    period double precision NOT NULL  -- seconds
);
CREATE INDEX hourhand_rate_starts_name ON hourhand_rate_starts (name, started_at);

-- Queues an operator paused (and resumed): no worker claims from a paused queue.
CREATE TABLE hourhand_queues (
    name text PRIMARY KEY,
    paused boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);

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

-- Compaction's mark: the minutes before it are counted in the totals at the epoch (their
-- rows stay, for the per-minute series, until they are two days old), so totals read the
-- epoch's rows and the minutes from the mark on, never two days of minutes.
CREATE TABLE hourhand_stats_mark (
    id integer PRIMARY KEY CHECK (id = 1),
    upto timestamptz NOT NULL
);
INSERT INTO hourhand_stats_mark (id, upto) VALUES (1, 'epoch');

-- The dead-letter set alone, for its count (hourhand_jobs_dead also holds cancelled jobs,
-- which are history).
CREATE INDEX hourhand_jobs_failed ON hourhand_jobs (id) WHERE state = 'failed';

-- API keys: the key itself is shown once, at creation; only its SHA-256 digest is kept.
-- The prefix is the key's public part (hh_<prefix>_<secret>), to find its row.
CREATE TABLE hourhand_api_keys (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    org_id text,  -- NULL: a key of the whole cluster
    role text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    prefix text NOT NULL,
    digest text NOT NULL,  -- hex SHA-256 of the whole key
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text,  -- the actor's label, e.g. cli:ana@host
    last_used_at timestamptz,  -- updated at most about once a minute
    revoked_at timestamptz
);
CREATE UNIQUE INDEX hourhand_api_keys_prefix ON hourhand_api_keys (prefix);

-- Who did what: one row per action of a person or a key (retry, cancel, pause, a schedule
-- edit with its before and after, a key created or revoked). Listed newest first by id
-- (the primary key, read backwards), keyset-paginated.
CREATE TABLE hourhand_audit (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor_kind text NOT NULL,  -- key | user | cli | app
    actor text NOT NULL,  -- the key's or user's name, user@host for the CLI
    actor_id text,
    org_id text,  -- the organisation the action concerned (NULL: the cluster)
    address text,  -- where the request came from
    action text NOT NULL,  -- e.g. job.retry, schedule.update, key.create, queue.pause
    target_kind text,  -- job | schedule | queue | key ...
    target_id text,
    details jsonb
);
CREATE INDEX hourhand_audit_org ON hourhand_audit (org_id, id) WHERE org_id IS NOT NULL;
CREATE INDEX hourhand_audit_target ON hourhand_audit (target_kind, target_id, id);

-- The worker and scheduler processes, each heartbeating its row every few seconds; a
-- clean stop deletes it, a scheduler prunes rows not seen for an hour.
CREATE TABLE hourhand_processes (
    id text PRIMARY KEY,  -- a worker's id (as in its attempts), or a scheduler's
    kind text NOT NULL,  -- worker | scheduler | web
    host text NOT NULL,
    pid integer NOT NULL,
    queues jsonb,  -- a worker's queues (a JSON list); NULL: every queue
    concurrency integer,
    running integer NOT NULL DEFAULT 0,  -- jobs running now
    completed bigint NOT NULL DEFAULT 0,  -- since the process started
    failed bigint NOT NULL DEFAULT 0,  -- attempts that did not complete, since it started
    version text,  -- hourhand's version
    started_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hourhand_processes_seen ON hourhand_processes (last_seen_at);

-- The ledger of fire times (0009): one row per fire time of every schedule, and per run
-- made by hand. Statuses: hourhand/store/fires.py.
-- Written by the scheduler in the transaction that inserts the runs; a conflicting insert
-- does nothing, so each fire time has one row however many schedulers race. The outcome is
-- copied by the statements that end a schedule's run, found through the job index.
CREATE TABLE hourhand_schedule_fires (
    schedule_id bigint NOT NULL REFERENCES hourhand_schedules (id) ON DELETE CASCADE,
    fire_time timestamptz NOT NULL,  -- for 'triggered': when it was triggered
    status text NOT NULL,  -- enqueued | held | triggered | merged | scheduler_down | ...
    recorded_at timestamptz NOT NULL DEFAULT now(),  -- for a run: when it was enqueued
    due_at timestamptz,  -- when the run was due (fire time + jitter; held: when released)
    job_id bigint,  -- the run ('merged': the run it was folded into); no foreign key
    outcome text,  -- completed | failed | cancelled, as the run last ended
    finished_at timestamptz,
    unlisted integer NOT NULL DEFAULT 0,  -- earlier fire times like this one not listed
    CONSTRAINT hourhand_schedule_fires_pkey PRIMARY KEY (schedule_id, fire_time)
);
CREATE INDEX hourhand_schedule_fires_job ON hourhand_schedule_fires (job_id)
    WHERE job_id IS NOT NULL;
-- Each schedule's last success, read by a backward probe per schedule.
CREATE INDEX hourhand_schedule_fires_success ON hourhand_schedule_fires (schedule_id, finished_at)
    WHERE outcome = 'completed';

-- Alerts: one row per (rule, key) condition from when it is first seen until it resolves,
-- kept afterwards as history (pruned by retention). At most one open (pending or firing)
-- alert per (rule, rule_org, key): the unique index below is what makes several schedulers
-- evaluating one rule open one alert.
CREATE TABLE hourhand_alerts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule text NOT NULL,
    rule_org text NOT NULL DEFAULT '',  -- '' : a config, code or cluster rule
    source text NOT NULL DEFAULT 'config',  -- where the rule is: config | code | api
    key text NOT NULL,  -- what it is about: job:NAME, schedule:ID, queue:NAME, run:ID ...
    kind text NOT NULL,
    severity text NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    summary text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}',
    org_id text,  -- the organisation it is about (org keys see only theirs)
    opened_at timestamptz NOT NULL,
    fired_at timestamptz,
    resolved_at timestamptz,
    notified_at timestamptz,
    notifications integer NOT NULL DEFAULT 0,
    acked_at timestamptz,
    acked_by text,
    silenced_until timestamptz
);
CREATE UNIQUE INDEX hourhand_alerts_open ON hourhand_alerts (rule, rule_org, key)
    WHERE state IN ('pending', 'firing');
CREATE INDEX hourhand_alerts_resolved ON hourhand_alerts (resolved_at)
    WHERE resolved_at IS NOT NULL;

-- Alert rules made through the API (config and code rules live in their files).
CREATE TABLE hourhand_alert_rules (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    org_id text NOT NULL DEFAULT '',  -- '': a cluster rule
    spec jsonb NOT NULL,  -- an AlertRule
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    created_by text
);
CREATE UNIQUE INDEX hourhand_alert_rules_name ON hourhand_alert_rules (org_id, name);

-- A user signs in to the dashboard with a name and a password; only its argon2id hash is
-- kept. org_id NULL: a user of the whole cluster. A name is unique within its organisation
-- (and among cluster users).
CREATE TABLE hourhand_users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    org_id text,  -- NULL: a user of the whole cluster
    role text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    password_hash text NOT NULL,  -- argon2id, in its PHC string form
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text,  -- the actor's label, e.g. cli:ana@host
    last_login_at timestamptz,
    disabled_at timestamptz  -- a disabled user cannot sign in; its sessions stop
);
CREATE UNIQUE INDEX hourhand_users_name ON hourhand_users ((coalesce(org_id, '')), name);

-- Secrets made once and shared by every process on the database: the dashboard's session
-- signing key, unless the settings give one.
CREATE TABLE hourhand_secrets (
    name text PRIMARY KEY,
    value text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
