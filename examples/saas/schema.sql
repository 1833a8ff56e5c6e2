-- The SaaS's own tables (seed 002), beside hourhand's in the same database. The seed's
-- `jobs` table is hourhand's (hourhand_jobs: org_id, created_by, state, progress, result)
-- and its `scheduled_jobs` table is hourhand_schedules (source 'user', per organisation).

-- organisations (the seed's orgId) and their members (createdBy)
CREATE TABLE IF NOT EXISTS orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    plan TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    tz TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- every object in the storage provider: uploads (CSV files to import), temporary files and
-- generated reports; storage:cleanup deletes the object and the row once expires_at passes
CREATE TABLE IF NOT EXISTS files (
    id {id},
    org_id TEXT,
    kind TEXT NOT NULL,
    storage_key TEXT NOT NULL UNIQUE,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_by TEXT,
    job_id BIGINT,
    created_at TEXT NOT NULL,
    expires_at TEXT
);

CREATE INDEX IF NOT EXISTS files_expires_at ON files (expires_at);

-- what a bulk import fills: one row per (organisation, e-mail)
CREATE TABLE IF NOT EXISTS contacts (
    id {id},
    org_id TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    company TEXT,
    source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (org_id, email)
);

-- what a report sums up
CREATE TABLE IF NOT EXISTS orders (
    id {id},
    org_id TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS orders_org_created ON orders (org_id, created_at);
