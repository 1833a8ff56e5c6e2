-- Queries of the records facet (store/records.py): API keys, the audit log, processes.
-- NOW() stands for the database clock in Unix seconds (see sqlite.py).

-- name: insert_key
INSERT INTO hourhand_api_keys (name, org_id, role, prefix, digest, created_at, created_by)
VALUES (:name, :org_id, :role, :prefix, :digest, NOW(), :created_by)
RETURNING *

-- name: find_key
SELECT * FROM hourhand_api_keys WHERE prefix = :prefix

-- name: get_key
SELECT * FROM hourhand_api_keys WHERE id = :id

-- name: list_keys
-- Every key, or one organisation's, oldest first.
SELECT * FROM hourhand_api_keys WHERE (:org_id IS NULL OR org_id = :org_id) ORDER BY id

-- name: revoke_key
-- Revoke a key (a revoked one keeps its first revocation time).
UPDATE hourhand_api_keys SET revoked_at = coalesce(revoked_at, NOW())
WHERE id = :id
RETURNING *

-- name: touch_key
-- Record a key's use, unless it was recorded within the last `every` seconds: a key used
-- by every request of a busy client writes about once a minute, not once per request.
UPDATE hourhand_api_keys SET last_used_at = NOW()
WHERE id = :id AND (last_used_at IS NULL OR last_used_at < NOW() - :every)

-- name: add_audit
INSERT INTO hourhand_audit
    (at, actor_kind, actor, actor_id, org_id, address, action, target_kind, target_id, details)
VALUES (NOW(), :actor_kind, :actor, :actor_id, :org_id, :address, :action, :target_kind,
        :target_id, :details)
RETURNING *

-- name: list_audit
-- Newest first, filtered; keyset pagination by id.
SELECT * FROM hourhand_audit
WHERE (:org_id IS NULL OR org_id = :org_id)
  AND (:target_kind IS NULL OR target_kind = :target_kind)
  AND (:target_id IS NULL OR target_id = :target_id)
  AND (:action IS NULL OR action = :action)
  AND (:before_id IS NULL OR id < :before_id)
ORDER BY id DESC LIMIT :limit

-- name: beat
-- A process is alive: add its row, or update it (started_at is kept from the first beat).
INSERT INTO hourhand_processes (id, kind, host, pid, queues, concurrency, running, completed,
                                failed, version, started_at, last_seen_at)
VALUES (:id, :kind, :host, :pid, :queues, :concurrency, :running, :completed, :failed,
        :version, NOW(), NOW())
ON CONFLICT (id) DO UPDATE SET
    queues = excluded.queues, concurrency = excluded.concurrency,
    running = excluded.running, completed = excluded.completed, failed = excluded.failed,
    version = excluded.version, last_seen_at = excluded.last_seen_at

-- name: list_processes
-- Processes seen within `within` seconds (alive), and with `all` the others too.
SELECT *, last_seen_at >= NOW() - :within AS alive
FROM hourhand_processes
WHERE :all OR last_seen_at >= NOW() - :within
ORDER BY kind, host, pid, id

-- name: remove_process
DELETE FROM hourhand_processes WHERE id = :id RETURNING id

-- name: prune_processes
DELETE FROM hourhand_processes WHERE last_seen_at < NOW() - :older_than RETURNING id

-- name: insert_user
INSERT INTO hourhand_users (name, org_id, role, password_hash, created_at, created_by)
VALUES (:name, :org_id, :role, :password_hash, NOW(), :created_by)
RETURNING *

-- name: find_user
-- A user by organisation and name (disabled ones too), with its password hash.
SELECT * FROM hourhand_users
WHERE coalesce(org_id, '') = coalesce(:org_id, '') AND name = :name

-- name: get_user
SELECT * FROM hourhand_users WHERE id = :id

-- name: list_users
-- Every user, or one organisation's, by organisation and name.
SELECT * FROM hourhand_users
WHERE (:org_id IS NULL OR org_id = :org_id)
ORDER BY coalesce(org_id, ''), name

-- name: disable_user
-- Disable a user (a disabled one keeps its first disabling time).
UPDATE hourhand_users SET disabled_at = coalesce(disabled_at, NOW())
WHERE id = :id
RETURNING *

-- name: set_user_password
-- A new password (its hash), set by an admin.
UPDATE hourhand_users SET password_hash = :password_hash
WHERE id = :id
RETURNING *

-- name: user_signed_in
-- Record a sign-in; a new hash replaces the old one when the hashing parameters changed.
UPDATE hourhand_users
SET last_login_at = NOW(), password_hash = coalesce(:password_hash, password_hash)
WHERE id = :id

-- name: get_secret
SELECT value FROM hourhand_secrets WHERE name = :name

-- name: put_secret
-- Store a secret unless one of that name exists (the first process to make it wins).
INSERT INTO hourhand_secrets (name, value, created_at) VALUES (:name, :value, NOW())
ON CONFLICT (name) DO NOTHING
