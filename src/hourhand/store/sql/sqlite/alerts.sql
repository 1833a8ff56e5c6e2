-- Queries of the alerts facet (store/alert_rows.py): alerts, their history, API rules, and
-- what the rules read that other queries do not. NOW() is the database clock in Unix
-- seconds (see sqlite.py).

-- name: open_alerts
SELECT * FROM hourhand_alerts WHERE state IN ('pending', 'firing') ORDER BY id

-- name: insert_alert
-- Open an alert unless its (rule, key) has an open one (the partial unique index).
INSERT INTO hourhand_alerts AS a (rule, rule_org, source, key, kind, severity, state,
    summary, details, org_id, opened_at, fired_at, notified_at, notifications)
VALUES (:rule, :rule_org, :source, :key, :kind, :severity, :state, :summary,
        :details, :org_id, :at, :fired_at, :notified_at, :notifications)
ON CONFLICT (rule, rule_org, key) WHERE state IN ('pending', 'firing') DO NOTHING
RETURNING *

-- name: get_alert
SELECT * FROM hourhand_alerts WHERE id = :id

-- name: list_alerts
-- Newest first; "open" is pending or firing.
SELECT * FROM hourhand_alerts
WHERE (:state IS NULL
       OR state = :state
       OR (:state = 'open' AND state IN ('pending', 'firing')))
  AND (:rule IS NULL OR rule = :rule)
  AND (:org_id IS NULL OR org_id = :org_id)
  AND (:before_id IS NULL OR id < :before_id)
ORDER BY id DESC
LIMIT :limit

-- name: ack_alert
UPDATE hourhand_alerts SET acked_at = :at, acked_by = :by WHERE id = :id
RETURNING *

-- name: silence_alert
UPDATE hourhand_alerts SET silenced_until = :until WHERE id = :id
RETURNING *

-- name: prune_alerts
-- A batch of resolved alerts older than a time (the oldest first, by the partial index).
DELETE FROM hourhand_alerts
WHERE id IN (SELECT id FROM hourhand_alerts
             WHERE resolved_at IS NOT NULL AND resolved_at < :before
             ORDER BY resolved_at LIMIT :limit)

-- name: recent_attempts_of_schedule
-- A schedule's latest attempts: its newest `scan` jobs (index hourhand_jobs_schedule).
SELECT a.job_id, j.name, a.outcome, a.finished_at, a.duration, a.error
FROM (SELECT id, name FROM hourhand_jobs
      WHERE schedule_id = :schedule_id
        AND (:org_id IS NULL OR org_id = :org_id)
      ORDER BY id DESC LIMIT :scan) AS j
JOIN hourhand_attempts a ON a.job_id = j.id
WHERE a.outcome <> 'interrupted'
ORDER BY a.finished_at DESC, a.id DESC
LIMIT :limit

-- name: recent_attempts_of_type
-- A job type's latest attempts among the newest `scan` jobs of all (a walk of the primary
-- key's end: no index by type is kept, as it would cost every state change).
SELECT a.job_id, j.name, a.outcome, a.finished_at, a.duration, a.error
FROM (SELECT id, name FROM hourhand_jobs
      WHERE id > (SELECT coalesce(max(id), 0) FROM hourhand_jobs) - :scan
        AND name = :name
        AND (:org_id IS NULL OR org_id = :org_id)) AS j
JOIN hourhand_attempts a ON a.job_id = j.id
WHERE a.outcome <> 'interrupted'
ORDER BY a.finished_at DESC, a.id DESC
LIMIT :limit

-- name: insert_rule
INSERT INTO hourhand_alert_rules (name, org_id, spec, created_at, updated_at, created_by)
VALUES (:name, :org_id, :spec, NOW(), NOW(), :created_by)
RETURNING *

-- name: list_rules
SELECT * FROM hourhand_alert_rules
WHERE :every OR org_id = :org_id
ORDER BY name, org_id

-- name: get_rule
SELECT * FROM hourhand_alert_rules WHERE name = :name AND org_id = :org_id

-- name: update_rule
UPDATE hourhand_alert_rules SET spec = :spec, updated_at = NOW()
WHERE name = :name AND org_id = :org_id
RETURNING *

-- name: delete_rule
DELETE FROM hourhand_alert_rules WHERE name = :name AND org_id = :org_id
RETURNING id
