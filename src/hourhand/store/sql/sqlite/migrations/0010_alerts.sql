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
