-- API keys, the audit log, and the registry of live worker and scheduler processes.

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
