-- hourhand schema for SQLite. Times are REAL Unix seconds (UTC); JSON is TEXT.
-- Must equal the result of applying every file in migrations/ in order (tested).

CREATE TABLE hourhand_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids are never reused
    queue TEXT NOT NULL,
    name TEXT NOT NULL,
    args TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at REAL NOT NULL,
    timeout REAL,
    unique_key TEXT,
    org_id TEXT,
    created_by TEXT,
    schedule_id INTEGER,
    fire_time REAL,
    progress REAL,
    progress_message TEXT,
    result TEXT,
    error TEXT,
    worker_id TEXT,
    lease_expires_at REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    handbacks INTEGER NOT NULL DEFAULT 0  -- attempts handed back at shutdown (not counted)
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
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL,  -- no foreign key: its check costs a quarter of a completion
    attempt INTEGER NOT NULL,
    worker_id TEXT,
    started_at REAL,
    finished_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    duration REAL,
    error TEXT,
    traceback TEXT
);
CREATE INDEX hourhand_attempts_job ON hourhand_attempts (job_id, id);

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
    updated_at REAL NOT NULL,
    -- enabled = coalesce(enabled_override, defined_enabled): what the code, config file or
    -- user defines, and an operator's enable/disable of a code or config schedule
    defined_enabled INTEGER NOT NULL DEFAULT 1,
    enabled_override INTEGER,
    disabled_at REAL,  -- disabled since, until its fire times are in the ledger
    overrides TEXT NOT NULL DEFAULT '{}'  -- JSON: an operator's edits of a config schedule
);
CREATE UNIQUE INDEX hourhand_schedules_name ON hourhand_schedules (coalesce(org_id, ''), name);
CREATE INDEX hourhand_schedules_due ON hourhand_schedules (next_fire_at) WHERE enabled = 1;
-- A schedule's jobs, for its overlap policy and its runs.
CREATE INDEX hourhand_jobs_schedule ON hourhand_jobs (schedule_id, id)
    WHERE schedule_id IS NOT NULL;

-- The starts of rate-limited job types: a row per claim that started jobs of such a type,
-- kept for the type's period (its claims delete older rows). Each row carries the limit in
-- force, so that `jobs show` can tell a job waiting on it without the app's code.
CREATE TABLE hourhand_rate_starts (
    name TEXT NOT NULL,
    started_at REAL NOT NULL,
    starts INTEGER NOT NULL,
    max_starts INTEGER NOT NULL,
    period REAL NOT NULL  -- seconds
);
CREATE INDEX hourhand_rate_starts_name ON hourhand_rate_starts (name, started_at);

-- Queues an operator paused (and resumed): no worker claims from a paused queue.
CREATE TABLE hourhand_queues (
    name TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);

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

-- Compaction's mark: the minutes before it are counted in the totals at minute 0 (their
-- rows stay, for the per-minute series, until they are two days old), so totals read
-- minute 0 and the minutes from the mark on, never two days of minutes.
CREATE TABLE hourhand_stats_mark (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    upto REAL NOT NULL
);
INSERT INTO hourhand_stats_mark (id, upto) VALUES (1, 0);

-- The dead-letter set alone, for its count (hourhand_jobs_dead also holds cancelled jobs,
-- which are history).
CREATE INDEX hourhand_jobs_failed ON hourhand_jobs (id) WHERE state = 'failed';

-- API keys: the key itself is shown once, at creation; only its SHA-256 digest is kept.
-- The prefix is the key's public part (hh_<prefix>_<secret>), to find its row.
CREATE TABLE hourhand_api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    org_id TEXT,  -- NULL: a key of the whole cluster
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    prefix TEXT NOT NULL,
    digest TEXT NOT NULL,  -- hex SHA-256 of the whole key
    created_at REAL NOT NULL,
    created_by TEXT,  -- the actor's label, e.g. cli:ana@host
    last_used_at REAL,  -- updated at most about once a minute
    revoked_at REAL
);
CREATE UNIQUE INDEX hourhand_api_keys_prefix ON hourhand_api_keys (prefix);

-- Who did what: one row per action of a person or a key (retry, cancel, pause, a schedule
-- edit with its before and after, a key created or revoked). Listed newest first by id
-- (the primary key, read backwards), keyset-paginated.
CREATE TABLE hourhand_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    actor_kind TEXT NOT NULL,  -- key | user | cli | app
    actor TEXT NOT NULL,  -- the key's or user's name, user@host for the CLI
    actor_id TEXT,
    org_id TEXT,  -- the organisation the action concerned (NULL: the cluster)
    address TEXT,  -- where the request came from
    action TEXT NOT NULL,  -- e.g. job.retry, schedule.update, key.create, queue.pause
    target_kind TEXT,  -- job | schedule | queue | key ...
    target_id TEXT,
    details TEXT  -- JSON
);
CREATE INDEX hourhand_audit_org ON hourhand_audit (org_id, id) WHERE org_id IS NOT NULL;
CREATE INDEX hourhand_audit_target ON hourhand_audit (target_kind, target_id, id);

-- The worker and scheduler processes, each heartbeating its row every few seconds; a
-- clean stop deletes it, a scheduler prunes rows not seen for an hour.
CREATE TABLE hourhand_processes (
    id TEXT PRIMARY KEY,  -- a worker's id (as in its attempts), or a scheduler's
    kind TEXT NOT NULL,  -- worker | scheduler | web
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    queues TEXT,  -- a worker's queues (a JSON list); NULL: every queue
    concurrency INTEGER,
    running INTEGER NOT NULL DEFAULT 0,  -- jobs running now
    completed INTEGER NOT NULL DEFAULT 0,  -- since the process started
    failed INTEGER NOT NULL DEFAULT 0,  -- attempts that did not complete, since it started
    version TEXT,  -- hourhand's version
    started_at REAL NOT NULL,
    last_seen_at REAL NOT NULL
);
CREATE INDEX hourhand_processes_seen ON hourhand_processes (last_seen_at);

-- The ledger of fire times (0009): one row per fire time of every schedule, and per run
-- made by hand. Statuses: hourhand/store/fires.py.
-- Written by the scheduler in the transaction that inserts the runs; a conflicting insert
-- does nothing, so each fire time has one row however many schedulers race. The outcome is
-- copied in the transactions that end a schedule's run, found through the job index.
CREATE TABLE hourhand_schedule_fires (
    schedule_id INTEGER NOT NULL REFERENCES hourhand_schedules (id) ON DELETE CASCADE,
    fire_time REAL NOT NULL,  -- for 'triggered': when it was triggered
    status TEXT NOT NULL,  -- enqueued | held | triggered | merged | scheduler_down | ...
    recorded_at REAL NOT NULL,  -- for a run: when it was enqueued
    due_at REAL,  -- when the run was due (fire time + jitter; held: when released)
    job_id INTEGER,  -- the run ('merged': the run it was folded into); no foreign key
    outcome TEXT,  -- completed | failed | cancelled, as the run last ended
    finished_at REAL,
    unlisted INTEGER NOT NULL DEFAULT 0,  -- earlier fire times like this one not listed
    PRIMARY KEY (schedule_id, fire_time)
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
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule TEXT NOT NULL,
    rule_org TEXT NOT NULL DEFAULT '',  -- '' : a config, code or cluster rule
    source TEXT NOT NULL DEFAULT 'config',  -- where the rule is: config | code | api
    key TEXT NOT NULL,  -- what it is about: job:NAME, schedule:ID, queue:NAME, run:ID ...
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    summary TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}',  -- JSON
    org_id TEXT,  -- the organisation it is about (org keys see only theirs)
    opened_at REAL NOT NULL,
    fired_at REAL,
    resolved_at REAL,
    notified_at REAL,
    notifications INTEGER NOT NULL DEFAULT 0,
    acked_at REAL,
    acked_by TEXT,
    silenced_until REAL
);
CREATE UNIQUE INDEX hourhand_alerts_open ON hourhand_alerts (rule, rule_org, key)
    WHERE state IN ('pending', 'firing');
CREATE INDEX hourhand_alerts_resolved ON hourhand_alerts (resolved_at)
    WHERE resolved_at IS NOT NULL;

-- Alert rules made through the API (config and code rules live in their files).
CREATE TABLE hourhand_alert_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    org_id TEXT NOT NULL DEFAULT '',  -- '': a cluster rule
    spec TEXT NOT NULL,  -- JSON: an AlertRule
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    created_by TEXT
);
CREATE UNIQUE INDEX hourhand_alert_rules_name ON hourhand_alert_rules (org_id, name);

-- A user signs in to the dashboard with a name and a password; only its argon2id hash is
-- kept. org_id NULL: a user of the whole cluster. A name is unique within its organisation
-- (and among cluster users).
CREATE TABLE hourhand_users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    org_id TEXT,  -- NULL: a user of the whole cluster
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    password_hash TEXT NOT NULL,  -- argon2id, in its PHC string form
    created_at REAL NOT NULL,
    created_by TEXT,  -- the actor's label, e.g. cli:ana@host
    last_login_at REAL,
    disabled_at REAL  -- a disabled user cannot sign in; its sessions stop
);
CREATE UNIQUE INDEX hourhand_users_name ON hourhand_users (coalesce(org_id, ''), name);

-- Secrets made once and shared by every process on the database: the dashboard's session
-- signing key, unless the settings give one.
CREATE TABLE hourhand_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at REAL NOT NULL
);
