-- The library's domain tables (seed 003), beside hourhand's own in one database.
-- {id}, {json}: see examples/common/domain.py. Times are ISO 8601 text in UTC.

CREATE TABLE IF NOT EXISTS members (
    id {id},
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    joined_at TEXT NOT NULL
);

-- files on disk under LIBRARY_ASSETS_DIR (cover images); cleanup_orphans removes those
-- no book points at, and files no row knows
CREATE TABLE IF NOT EXISTS assets (
    id {id},
    book_id BIGINT,
    kind TEXT NOT NULL,                  -- cover
    path TEXT NOT NULL UNIQUE,           -- relative to the assets folder
    bytes INTEGER NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS books (
    id {id},
    isbn TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    author TEXT,
    publisher TEXT,
    publish_date TEXT,
    page_count INTEGER,
    description TEXT,
    cover_asset_id BIGINT,               -- assets.id of its current cover
    cover_source_id TEXT,                -- the metadata service's id of that cover
    metadata_status TEXT NOT NULL DEFAULT 'pending',   -- pending, ok, not_found
    metadata_refreshed_at TEXT,
    added_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS loans (
    id {id},
    book_id BIGINT NOT NULL,
    member_id BIGINT NOT NULL,
    borrowed_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    returned_at TEXT,
    reminded_at TEXT,                    -- the "due soon" reminder
    overdue_notified_at TEXT,            -- the latest overdue notice
    fine_cents INTEGER NOT NULL DEFAULT 0,
    fine_updated_at TEXT
);
CREATE INDEX IF NOT EXISTS loans_open ON loans (due_at) WHERE returned_at IS NULL;

CREATE TABLE IF NOT EXISTS holds (
    id {id},
    book_id BIGINT NOT NULL,
    member_id BIGINT NOT NULL,
    placed_at TEXT NOT NULL,
    status TEXT NOT NULL,                -- waiting, ready, collected, expired
    ready_at TEXT,
    notified_at TEXT,
    pickup_by TEXT
);

CREATE TABLE IF NOT EXISTS ratings (
    id {id},
    book_id BIGINT NOT NULL,
    member_id BIGINT NOT NULL,
    stars INTEGER NOT NULL,
    rated_at TEXT NOT NULL,
    UNIQUE (book_id, member_id)
);

CREATE TABLE IF NOT EXISTS reading_sessions (
    id {id},
    member_id BIGINT NOT NULL,
    book_id BIGINT NOT NULL,
    pages INTEGER NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0, -- 1: the member finished the book in this session
    read_at TEXT NOT NULL
);

-- the web app's sign-in sessions; expire_sessions deletes the expired and the idle ones
CREATE TABLE IF NOT EXISTS sessions (
    id {id},
    member_id BIGINT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- members' linked reading accounts (OAuth); refresh_tokens renews them before they lapse
CREATE TABLE IF NOT EXISTS oauth_tokens (
    id {id},
    member_id BIGINT NOT NULL,
    provider TEXT NOT NULL,
    access_token TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    refreshed_at TEXT,
    status TEXT NOT NULL DEFAULT 'active',   -- active, revoked (the member must link again)
    UNIQUE (member_id, provider)
);

-- the notification queue (outbox): loan_reminders and announcements write it,
-- send_notifications hands each row to an hourhand.email job
CREATE TABLE IF NOT EXISTS notifications (
    id {id},
    member_id BIGINT NOT NULL,
    kind TEXT NOT NULL,                  -- due_soon, overdue, hold_ready, announcement
    variables {json} NOT NULL,           -- what its e-mail templates see
    status TEXT NOT NULL DEFAULT 'pending',  -- pending, sent, delivered, failed
    created_at TEXT NOT NULL,
    sent_at TEXT,
    job_id BIGINT,                       -- the hourhand.email job that delivers it
    delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS notifications_pending ON notifications (id) WHERE status = 'pending';

CREATE TABLE IF NOT EXISTS book_stats (
    book_id BIGINT PRIMARY KEY,
    loans_30d INTEGER NOT NULL,
    loans_total INTEGER NOT NULL,
    ratings_count INTEGER NOT NULL,
    avg_rating REAL,
    popularity REAL NOT NULL,
    popularity_rank INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS member_stats (
    member_id BIGINT PRIMARY KEY,
    books_finished INTEGER NOT NULL,
    pages_30d INTEGER NOT NULL,
    open_loans INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
