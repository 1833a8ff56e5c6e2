-- Dashboard users (docs/dashboard.md) and the secrets every API replica shares.

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
