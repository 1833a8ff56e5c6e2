-- API keys, the audit log, and the registry of live worker and scheduler processes.

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
