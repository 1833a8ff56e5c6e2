-- Queries of the alerts facet (store/alert_rows.py): alerts, their history, API rules, and
-- what the rules read that other queries do not.

-- name: open_alerts
SELECT * FROM hourhand_alerts WHERE state IN ('pending', 'firing') ORDER BY id

-- name: insert_alert
-- Open an alert unless its (rule, key) has an open one (the partial unique index).
INSERT INTO hourhand_alerts AS a (rule, rule_org, source, key, kind, severity, state,
    summary, details, org_id, opened_at, fired_at, notified_at, notifications)
VALUES (%(rule)s, %(rule_org)s, %(source)s, %(key)s, %(kind)s, %(severity)s, %(state)s, %(summary)s,
        %(details)s, %(org_id)s, %(at)s, %(fired_at)s, %(notified_at)s, %(notifications)s)
ON CONFLICT (rule, rule_org, key) WHERE state IN ('pending', 'firing') DO NOTHING
RETURNING *

-- name: get_alert
SELECT * FROM hourhand_alerts WHERE id = %(id)s

-- name: list_alerts
-- Newest first; "open" is pending or firing.
SELECT * FROM hourhand_alerts
WHERE (%(state)s::text IS NULL
       OR state = %(state)s
       OR (%(state)s = 'open' AND state IN ('pending', 'firing')))
  AND (%(rule)s::text IS NULL OR rule = %(rule)s)
  AND (%(org_id)s::text IS NULL OR org_id = %(org_id)s)
  AND (%(before_id)s::bigint IS NULL OR id < %(before_id)s)
ORDER BY id DESC
LIMIT %(limit)s

-- name: ack_alert
UPDATE hourhand_alerts SET acked_at = %(at)s, acked_by = %(by)s WHERE id = %(id)s
RETURNING *

-- name: silence_alert
UPDATE hourhand_alerts SET silenced_until = %(until)s WHERE id = %(id)s
RETURNING *

-- name: prune_alerts
-- A batch of resolved alerts older than a time (the oldest first, by the partial index).
DELETE FROM hourhand_alerts
WHERE id IN (SELECT id FROM hourhand_alerts
             WHERE resolved_at IS NOT NULL AND resolved_at < %(before)s
             ORDER BY resolved_at LIMIT %(limit)s)

-- name: recent_attempts_of_schedule
-- A schedule's latest attempts: its newest `scan` jobs (index hourhand_jobs_schedule).
SELECT a.job_id, j.name, a.outcome, a.finished_at, a.duration, a.error
FROM (SELECT id, name FROM hourhand_jobs
      WHERE schedule_id = %(schedule_id)s
        AND (%(org_id)s::text IS NULL OR org_id = %(org_id)s)
      ORDER BY id DESC LIMIT %(scan)s) AS j
JOIN hourhand_attempts a ON a.job_id = j.id
WHERE a.outcome <> 'interrupted'
ORDER BY a.finished_at DESC, a.id DESC
LIMIT %(limit)s

-- name: recent_attempts_of_type
-- A job type's latest attempts among the newest `scan` jobs of all (a walk of the primary
-- key's end: no index by type is kept, as it would cost every state change).
SELECT a.job_id, j.name, a.outcome, a.finished_at, a.duration, a.error
FROM (SELECT id, name FROM hourhand_jobs
      WHERE id > (SELECT coalesce(max(id), 0) FROM hourhand_jobs) - %(scan)s
        AND name = %(name)s
        AND (%(org_id)s::text IS NULL OR org_id = %(org_id)s)) AS j
JOIN hourhand_attempts a ON a.job_id = j.id
WHERE a.outcome <> 'interrupted'
ORDER BY a.finished_at DESC, a.id DESC
LIMIT %(limit)s

-- name: insert_rule
INSERT INTO hourhand_alert_rules (name, org_id, spec, created_at, updated_at, created_by)
VALUES (%(name)s, %(org_id)s, %(spec)s, now(), now(), %(created_by)s)
RETURNING *

-- name: list_rules
SELECT * FROM hourhand_alert_rules
WHERE %(every)s OR org_id = %(org_id)s
ORDER BY name, org_id

-- name: get_rule
SELECT * FROM hourhand_alert_rules WHERE name = %(name)s AND org_id = %(org_id)s

-- name: update_rule
UPDATE hourhand_alert_rules SET spec = %(spec)s, updated_at = now()
WHERE name = %(name)s AND org_id = %(org_id)s
RETURNING *

-- name: delete_rule
DELETE FROM hourhand_alert_rules WHERE name = %(name)s AND org_id = %(org_id)s
RETURNING id
