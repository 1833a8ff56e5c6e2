-- MujDomecek's domain tables (seed 004), beside hourhand's in one database.
-- The id, json and bytes placeholders become each dialect's types (examples/common/domain.py); times
-- are ISO 8601 text in UTC, booleans 0/1, so that one set of queries serves SQLite and
-- PostgreSQL.

CREATE TABLE IF NOT EXISTS users (
    id {id},
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT,                      -- scrypt; NULL: cannot sign in
    is_admin INTEGER NOT NULL DEFAULT 0,
    preferences {json} NOT NULL,             -- JSON: emailWeeklySummary (true or false), ...
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS projects (
    id {id},
    owner_id BIGINT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS properties (
    id {id},
    project_id BIGINT NOT NULL REFERENCES projects (id),
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS units (
    id {id},
    property_id BIGINT NOT NULL REFERENCES properties (id),
    name TEXT NOT NULL
);

-- who a property is shared with (the owner of its project is not listed)
CREATE TABLE IF NOT EXISTS property_members (
    id {id},
    property_id BIGINT NOT NULL REFERENCES properties (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL,                      -- editor, viewer
    created_at TEXT NOT NULL
);

-- "Záznamy": the records of a property (repairs, inspections, purchases...)
CREATE TABLE IF NOT EXISTS zaznamy (
    id {id},
    property_id BIGINT NOT NULL REFERENCES properties (id),
    unit_id BIGINT REFERENCES units (id),
    author_id BIGINT NOT NULL REFERENCES users (id),
    title TEXT NOT NULL,
    status TEXT NOT NULL,                    -- draft, published
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    is_deleted INTEGER NOT NULL DEFAULT 0,
    deleted_at TEXT
);
CREATE INDEX IF NOT EXISTS zaznamy_drafts ON zaznamy (status, is_deleted, created_at);

-- "ZaznamDokumenty": files of a record, kept in the object store under storage_key
CREATE TABLE IF NOT EXISTS documents (
    id {id},
    zaznam_id BIGINT NOT NULL REFERENCES zaznamy (id),
    uploaded_by BIGINT NOT NULL REFERENCES users (id),
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    storage_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    is_deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS documents_zaznam ON documents (zaznam_id);

CREATE TABLE IF NOT EXISTS comments (
    id {id},
    zaznam_id BIGINT NOT NULL REFERENCES zaznamy (id),
    author_id BIGINT NOT NULL REFERENCES users (id),
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS contacts (
    id {id},
    owner_id BIGINT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    phone TEXT,
    email TEXT
);

CREATE TABLE IF NOT EXISTS notifications (
    id {id},
    user_id BIGINT NOT NULL REFERENCES users (id),
    type TEXT NOT NULL,                      -- draft_reminder, draft_expiring, invitation_expired, sync_failed
    payload {json} NOT NULL,
    subject_key TEXT,                        -- what it is about, e.g. "zaznam:42": no second reminder
    is_read INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_age ON notifications (is_read, created_at);
CREATE INDEX IF NOT EXISTS notifications_subject ON notifications (type, subject_key);

-- the activity log
CREATE TABLE IF NOT EXISTS activities (
    id {id},
    user_id BIGINT NOT NULL REFERENCES users (id),
    property_id BIGINT REFERENCES properties (id),
    action TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS activities_age ON activities (created_at);

CREATE TABLE IF NOT EXISTS invitations (
    id {id},
    created_by BIGINT NOT NULL REFERENCES users (id),
    email TEXT NOT NULL,
    target_type TEXT NOT NULL,               -- project, property
    target_id BIGINT NOT NULL,
    status TEXT NOT NULL,                    -- pending, accepted, expired
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS invitations_pending ON invitations (status, expires_at);

-- sign-in sessions: the web app's cookie or bearer token is one of these (its SHA-256 kept)
CREATE TABLE IF NOT EXISTS refresh_tokens (
    id {id},
    user_id BIGINT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    created_at TEXT NOT NULL
);

-- offline changes of the mobile app that failed to reach the sync service
CREATE TABLE IF NOT EXISTS sync_queue (
    id {id},
    user_id BIGINT NOT NULL REFERENCES users (id),
    entity_type TEXT NOT NULL,
    entity_id BIGINT NOT NULL,
    operation TEXT NOT NULL,                 -- create, update, delete
    payload {json} NOT NULL,
    status TEXT NOT NULL,                    -- failed, permanently_failed
    retry_count INTEGER NOT NULL DEFAULT 0,
    next_retry_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sync_queue_due ON sync_queue (status, next_retry_at);

-- data exports (ExportDataJob): the ZIP in the object store, its link valid until expires_at
CREATE TABLE IF NOT EXISTS exports (
    id {id},
    user_id BIGINT NOT NULL REFERENCES users (id),
    format TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- keys the app makes once and every process shares (the export links' signing key)
CREATE TABLE IF NOT EXISTS app_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
