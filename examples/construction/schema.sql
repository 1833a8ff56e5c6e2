-- The construction company's Phase 1 tables (seed 000), beside hourhand's own.
-- {id}, {json} are filled in per dialect by examples.common.domain; times are ISO 8601 text
-- in UTC; money is whole öre (1/100 SEK) so that sums are exact on both databases.

CREATE TABLE IF NOT EXISTS tenants (
    id {id},
    name TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
    id {id},
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL              -- 'admin', 'project_manager', 'worker'
);

CREATE TABLE IF NOT EXISTS clients (
    id {id},
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS projects (
    id {id},
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    client_id BIGINT REFERENCES clients (id),
    name TEXT NOT NULL,
    status TEXT NOT NULL            -- 'active', 'completed', 'archived'
);

-- One budget per project. alert_thresholds: a JSON list of objects with "type" ('hours',
-- 'material' or 'total'), "percentage" (80) and "notify" (true). updated_at changes with
-- every edit: an alert
-- remembers the version it was raised against.
CREATE TABLE IF NOT EXISTS project_budgets (
    id {id},
    project_id BIGINT NOT NULL UNIQUE REFERENCES projects (id),
    hours_budget DOUBLE PRECISION NOT NULL,
    material_budget BIGINT NOT NULL,     -- öre
    total_budget BIGINT NOT NULL,        -- öre: hours at hourly_rate plus material
    hourly_rate BIGINT NOT NULL,         -- öre per hour
    alert_thresholds {json} NOT NULL,
    updated_at TEXT NOT NULL
);

-- What get_budget_usage() sums: hours reported and material bought.
CREATE TABLE IF NOT EXISTS time_entries (
    id {id},
    project_id BIGINT NOT NULL REFERENCES projects (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    hours DOUBLE PRECISION NOT NULL,
    worked_on TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS time_entries_project ON time_entries (project_id);

CREATE TABLE IF NOT EXISTS material_entries (
    id {id},
    project_id BIGINT NOT NULL REFERENCES projects (id),
    description TEXT NOT NULL,
    amount BIGINT NOT NULL,              -- öre
    bought_on TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS material_entries_project ON material_entries (project_id);

-- One active alert per (project, alert_type, threshold_percentage): the partial unique
-- index makes "no active alert exists" a guarantee, not only a check.
CREATE TABLE IF NOT EXISTS budget_alerts (
    id {id},
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    project_id BIGINT NOT NULL REFERENCES projects (id),
    alert_type TEXT NOT NULL,            -- 'hours', 'material', 'total'
    threshold_percentage DOUBLE PRECISION NOT NULL,
    current_percentage DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,                -- 'active', 'resolved'
    budget_updated_at TEXT NOT NULL,     -- the budget version it was raised (or updated) at
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    resolved_at TEXT,
    emailed_at TEXT                      -- the admins' e-mail was enqueued (an outbox)
);
CREATE UNIQUE INDEX IF NOT EXISTS budget_alerts_one_active
    ON budget_alerts (project_id, alert_type, threshold_percentage) WHERE status = 'active';

-- In-app notifications, one row per recipient.
CREATE TABLE IF NOT EXISTS notifications (
    id {id},
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    type TEXT NOT NULL,
    payload {json} NOT NULL,
    created_at TEXT NOT NULL,
    read_at TEXT
);

CREATE TABLE IF NOT EXISTS invoices (
    id {id},
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    project_id BIGINT REFERENCES projects (id),
    client_id BIGINT REFERENCES clients (id),
    number TEXT NOT NULL,
    issued_on TEXT NOT NULL,
    due_on TEXT NOT NULL,
    currency TEXT NOT NULL,
    pdf_url TEXT,
    pdf_generated_at TEXT,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS invoice_lines (
    id {id},
    invoice_id BIGINT NOT NULL REFERENCES invoices (id),
    sort_order INTEGER NOT NULL,
    description TEXT NOT NULL,
    quantity DOUBLE PRECISION NOT NULL,
    unit TEXT NOT NULL,
    unit_price BIGINT NOT NULL           -- öre
);
CREATE INDEX IF NOT EXISTS invoice_lines_order ON invoice_lines (invoice_id, sort_order, id);

-- Public share links of a resource (an invoice, a project's photos ...).
CREATE TABLE IF NOT EXISTS public_links (
    id {id},
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    resource_type TEXT NOT NULL,
    resource_id BIGINT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    active BOOLEAN NOT NULL,
    expires_at TEXT,
    max_views INTEGER,
    view_count INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS public_links_active ON public_links (active, id);

CREATE TABLE IF NOT EXISTS public_link_events (
    id {id},
    link_id BIGINT NOT NULL REFERENCES public_links (id),
    kind TEXT NOT NULL,                  -- 'view', 'download'
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS public_link_events_created ON public_link_events (created_at);

-- append_audit_event(): what changed, and the jobs' errors ("log errors to audit_logs").
CREATE TABLE IF NOT EXISTS audit_logs (
    id {id},
    tenant_id BIGINT,
    table_name TEXT NOT NULL,
    record_id BIGINT,
    action TEXT NOT NULL,                -- 'export', 'update', 'error'
    old_values {json},
    new_values {json},
    changed_fields {json},
    metadata {json},
    created_at TEXT NOT NULL
);
