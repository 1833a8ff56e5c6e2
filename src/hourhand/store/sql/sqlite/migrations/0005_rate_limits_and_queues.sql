-- Rate limits of job types and paused queues.

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
