-- Dashboard users (docs/dashboard.md) and the secrets every API replica shares.

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
