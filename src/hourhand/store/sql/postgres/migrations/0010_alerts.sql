-- Alerts: one row per (rule, key) condition from when it is first seen until it resolves,
-- kept afterwards as history (pruned by retention). At most one open (pending or firing)
-- alert per (rule, rule_org, key): the unique index below is what makes several schedulers
-- evaluating one rule open one alert.
CREATE TABLE hourhand_alerts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule text NOT NULL,
    rule_org text NOT NULL DEFAULT '',  -- '' : a config, code or cluster rule
    source text NOT NULL DEFAULT 'config',  -- where the rule is: config | code | api
    key text NOT NULL,  -- what it is about: job:NAME, schedule:ID, queue:NAME, run:ID ...
    kind text NOT NULL,
    severity text NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    summary text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}',
    org_id text,  -- the organisation it is about (org keys see only theirs)
    opened_at timestamptz NOT NULL,
    fired_at timestamptz,
    resolved_at timestamptz,
    notified_at timestamptz,
    notifications integer NOT NULL DEFAULT 0,
    acked_at timestamptz,
    acked_by text,
    silenced_until timestamptz
);
CREATE UNIQUE INDEX hourhand_alerts_open ON hourhand_alerts (rule, rule_org, key)
    WHERE state IN ('pending', 'firing');
CREATE INDEX hourhand_alerts_resolved ON hourhand_alerts (resolved_at)
    WHERE resolved_at IS NOT NULL;

-- Alert rules made through the API (config and code rules live in their files).
CREATE TABLE hourhand_alert_rules (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    org_id text NOT NULL DEFAULT '',  -- '': a cluster rule
    spec jsonb NOT NULL,  -- an AlertRule
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    created_by text
);
CREATE UNIQUE INDEX hourhand_alert_rules_name ON hourhand_alert_rules (org_id, name);
