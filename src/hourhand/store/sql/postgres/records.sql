-- Queries of the records facet (store/records.py): API keys, the audit log, processes.

-- name: insert_key
INSERT INTO hourhand_api_keys (name, org_id, role, prefix, digest, created_by)
VALUES (%(name)s, %(org_id)s, %(role)s, %(prefix)s, %(digest)s, %(created_by)s)
RETURNING *

-- name: find_key
SELECT * FROM hourhand_api_keys WHERE prefix = %(prefix)s

-- name: get_key
SELECT * FROM hourhand_api_keys WHERE id = %(id)s

-- name: list_keys
-- Every key, or one organisation's, oldest first.
SELECT * FROM hourhand_api_keys
WHERE (%(org_id)s::text IS NULL OR org_id = %(org_id)s::text)
ORDER BY id

-- name: revoke_key
-- Revoke a key (a revoked one keeps its first revocation time).
UPDATE hourhand_api_keys SET revoked_at = coalesce(revoked_at, now())
WHERE id = %(id)s
RETURNING *

-- name: touch_key
-- Record a key's use, unless it was recorded within the last `every` seconds: a key used
-- by every request of a busy client writes about once a minute, not once per request.
UPDATE hourhand_api_keys SET last_used_at = now()
WHERE id = %(id)s
  AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => %(every)s))

-- name: add_audit
INSERT INTO hourhand_audit
    (actor_kind, actor, actor_id, org_id, address, action, target_kind, target_id, details)
VALUES (%(actor_kind)s, %(actor)s, %(actor_id)s, %(org_id)s, %(address)s, %(action)s,
        %(target_kind)s, %(target_id)s, %(details)s)
RETURNING *

-- name: list_audit
-- Newest first, filtered; keyset pagination by id.
SELECT * FROM hourhand_audit
WHERE (%(org_id)s::text IS NULL OR org_id = %(org_id)s::text)
  AND (%(target_kind)s::text IS NULL OR target_kind = %(target_kind)s::text)
  AND (%(target_id)s::text IS NULL OR target_id = %(target_id)s::text)
  AND (%(action)s::text IS NULL OR action = %(action)s::text)
  AND (%(before_id)s::bigint IS NULL OR id < %(before_id)s::bigint)
ORDER BY id DESC LIMIT %(limit)s

-- name: beat
-- A process is alive: add its row, or update it (started_at is kept from the first beat).
INSERT INTO hourhand_processes
    (id, kind, host, pid, queues, concurrency, running, completed, failed, version)
VALUES (%(id)s, %(kind)s, %(host)s, %(pid)s, %(queues)s, %(concurrency)s, %(running)s,
        %(completed)s, %(failed)s, %(version)s)
ON CONFLICT (id) DO UPDATE SET
    queues = excluded.queues, concurrency = excluded.concurrency,
    running = excluded.running, completed = excluded.completed, failed = excluded.failed,
    version = excluded.version, last_seen_at = now()

-- name: list_processes
-- Processes seen within `within` seconds (alive), and with `all` the others too.
SELECT *, last_seen_at >= now() - make_interval(secs => %(within)s) AS alive
FROM hourhand_processes
WHERE %(all)s OR last_seen_at >= now() - make_interval(secs => %(within)s)
ORDER BY kind, host, pid, id

-- name: remove_process
DELETE FROM hourhand_processes WHERE id = %(id)s RETURNING id

-- name: prune_processes
DELETE FROM hourhand_processes
WHERE last_seen_at < now() - make_interval(secs => %(older_than)s)
RETURNING id

-- name: insert_user
INSERT INTO hourhand_users (name, org_id, role, password_hash, created_by)
VALUES (%(name)s, %(org_id)s, %(role)s, %(password_hash)s, %(created_by)s)
RETURNING *

-- name: find_user
-- A user by organisation and name (disabled ones too), with its password hash.
SELECT * FROM hourhand_users
WHERE coalesce(org_id, '') = coalesce(%(org_id)s::text, '') AND name = %(name)s

-- name: get_user
SELECT * FROM hourhand_users WHERE id = %(id)s

-- name: list_users
-- Every user, or one organisation's, by organisation and name.
SELECT * FROM hourhand_users
WHERE (%(org_id)s::text IS NULL OR org_id = %(org_id)s::text)
ORDER BY coalesce(org_id, ''), name

-- name: disable_user
-- Disable a user (a disabled one keeps its first disabling time).
UPDATE hourhand_users SET disabled_at = coalesce(disabled_at, now())
WHERE id = %(id)s
RETURNING *

-- name: set_user_password
-- A new password (its hash), set by an admin.
UPDATE hourhand_users SET password_hash = %(password_hash)s
WHERE id = %(id)s
RETURNING *

-- name: user_signed_in
-- Record a sign-in; a new hash replaces the old one when the hashing parameters changed.
UPDATE hourhand_users
SET last_login_at = now(), password_hash = coalesce(%(password_hash)s, password_hash)
WHERE id = %(id)s

-- name: get_secret
SELECT value FROM hourhand_secrets WHERE name = %(name)s

-- name: put_secret
-- Store a secret unless one of that name exists (the first process to make it wins).
INSERT INTO hourhand_secrets (name, value) VALUES (%(name)s, %(value)s)
ON CONFLICT (name) DO NOTHING
