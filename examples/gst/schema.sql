-- The GST litigation system's tables the background jobs read and write (seed 001),
-- beside hourhand's own in the same database. Ids are UUIDs as text; times are ISO 8601
-- UTC text (examples/common/domain.py), so the jobs' comparisons are string comparisons.
-- {json} is JSONB on PostgreSQL, TEXT on SQLite.

CREATE TABLE IF NOT EXISTS tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  time_zone TEXT NOT NULL DEFAULT 'Asia/Kolkata',  -- "today", snapshot dates, e-mail times
  whatsapp_enabled INTEGER NOT NULL DEFAULT 0       -- hearing reminders on WhatsApp too
);

CREATE TABLE IF NOT EXISTS profiles (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  full_name TEXT NOT NULL,
  email TEXT NOT NULL,
  phone TEXT,
  role TEXT NOT NULL                                -- admin, partner, advocate, associate
);

CREATE TABLE IF NOT EXISTS courts (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  name TEXT NOT NULL,
  city TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS cases (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  case_number TEXT NOT NULL,
  title TEXT NOT NULL,
  status TEXT NOT NULL,                             -- Active, Closed
  owner_id TEXT REFERENCES profiles (id),
  assigned_to TEXT REFERENCES profiles (id),        -- the advocate
  created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS documents (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  case_id TEXT REFERENCES cases (id),
  name TEXT NOT NULL,
  uploaded_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS sla_policies (
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  priority TEXT NOT NULL,                           -- Critical, High, Medium, Low
  hours INTEGER NOT NULL,                           -- an open task older than this breaches
  PRIMARY KEY (tenant_id, priority)
);

CREATE TABLE IF NOT EXISTS tasks (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  case_id TEXT REFERENCES cases (id),
  title TEXT NOT NULL,
  priority TEXT NOT NULL,
  status TEXT NOT NULL,                             -- Not Started, In Progress, Review, Completed, Cancelled
  assigned_to TEXT REFERENCES profiles (id),
  due_date TEXT NOT NULL,
  created_at TEXT NOT NULL,
  completed_at TEXT,
  is_overdue INTEGER NOT NULL DEFAULT 0,            -- set by check-sla-and-overdue
  overdue_since TEXT,
  sla_breached INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS tasks_open_due ON tasks (tenant_id, due_date);

CREATE TABLE IF NOT EXISTS hearings (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  case_id TEXT NOT NULL REFERENCES cases (id),
  court_id TEXT NOT NULL REFERENCES courts (id),
  hearing_date TEXT NOT NULL,
  status TEXT NOT NULL,                             -- Scheduled, Attended, Adjourned, Cancelled
  reminder_sent_at TEXT                             -- set by send-hearing-reminders
);

CREATE INDEX IF NOT EXISTS hearings_date ON hearings (tenant_id, hearing_date);

CREATE TABLE IF NOT EXISTS automation_rules (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  name TEXT NOT NULL,
  trigger_event TEXT NOT NULL,                      -- task_overdue, sla_violation, deadline_approaching, ...
  is_active INTEGER NOT NULL DEFAULT 1,
  actions {json} NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS automation_logs (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  rule_id TEXT,
  rule_name TEXT,
  trigger_event TEXT,
  status TEXT,                                      -- success, failed
  actions_executed {json},
  error_message TEXT,
  executed_at TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS automation_logs_recent ON automation_logs (tenant_id, executed_at);

CREATE TABLE IF NOT EXISTS audit_log (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  action_type TEXT NOT NULL,                        -- background_job_execution, task_overdue, sla_violation
  entity_type TEXT,                                 -- background_job, task, hearing, analytics
  entity_id TEXT,
  user_id TEXT,                                     -- the service role for background jobs
  details {json},
  timestamp TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS audit_log_time ON audit_log (action_type, timestamp);

CREATE TABLE IF NOT EXISTS analytics_snapshots (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  metric_type TEXT NOT NULL,
  snapshot_date TEXT NOT NULL,                      -- YYYY-MM-DD in the tenant's zone
  metric_value {json} NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (tenant_id, metric_type, snapshot_date)
);

-- what was sent to whom, so that a digest goes out once a day however often its job runs
CREATE TABLE IF NOT EXISTS notification_log (
  tenant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  kind TEXT NOT NULL,                               -- deadline_digest, automation_health
  sent_on TEXT NOT NULL,                            -- YYYY-MM-DD in the tenant's zone
  created_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, user_id, kind, sent_on)
);
