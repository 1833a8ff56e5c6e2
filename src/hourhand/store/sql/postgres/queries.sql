-- Named queries for PostgreSQL; %(name)s parameters; now() is the database clock.

-- name: insert_jobs
-- Insert many jobs in one statement (keyless ones: no conflict is possible) and wake
-- listening workers for each queue that got ready work.
WITH ins AS (
    INSERT INTO hourhand_jobs (queue, name, args, state, priority, max_attempts, run_at,
                               timeout, org_id, created_by)
    SELECT q, n, a::jsonb,
           CASE WHEN coalesce(r, now()) > now() THEN 'scheduled' ELSE 'queued' END,
           p, m, coalesce(r, now()), t, o, c
    FROM unnest(%(queue)s::text[], %(name)s::text[], %(args)s::text[], %(priority)s::int[],
                %(max_attempts)s::int[], %(run_at)s::timestamptz[], %(timeout)s::float8[],
                %(org_id)s::text[], %(created_by)s::text[])
         AS x(q, n, a, p, m, r, t, o, c)
    RETURNING id, queue, state
), woken AS (
    SELECT pg_notify('hourhand_jobs', queue)
    FROM (SELECT DISTINCT queue FROM ins WHERE state = 'queued') AS ready
)
SELECT id, (SELECT count(*) FROM woken) AS woken FROM ins ORDER BY id

-- name: insert_alike
-- Insert many jobs alike but for their args (keyless: no conflict is possible), the args
-- sent as one JSON array, the rest once; wake listening workers if they are ready now.
-- Rows are inserted in the array's order, so their ids follow it.
WITH ins AS (
    INSERT INTO hourhand_jobs (queue, name, args, state, priority, max_attempts, run_at,
                               timeout, org_id, created_by)
    SELECT %(queue)s, %(name)s, a.value,
           CASE WHEN coalesce(%(run_at)s::timestamptz, now()) > now()
                THEN 'scheduled' ELSE 'queued' END,
           %(priority)s, %(max_attempts)s, coalesce(%(run_at)s::timestamptz, now()),
           %(timeout)s, %(org_id)s, %(created_by)s
    FROM jsonb_array_elements(%(args)s::jsonb) WITH ORDINALITY AS a(value, n)
    ORDER BY a.n
    RETURNING id, state
), woken AS (
    SELECT pg_notify('hourhand_jobs', %(queue)s) WHERE EXISTS (SELECT FROM ins WHERE state = 'queued')
)
SELECT id, (SELECT count(*) FROM woken) AS woken FROM ins ORDER BY id

-- name: insert_job
-- Insert one job that may conflict on its unique key or fire time: nothing then.
WITH ins AS (
    INSERT INTO hourhand_jobs (queue, name, args, state, priority, max_attempts, run_at,
                               timeout, unique_key, org_id, created_by, schedule_id, fire_time)
    VALUES (%(queue)s, %(name)s, %(args)s::jsonb,
            CASE WHEN coalesce(%(run_at)s::timestamptz, now()) > now()
                 THEN 'scheduled' ELSE 'queued' END,
            %(priority)s, %(max_attempts)s, coalesce(%(run_at)s::timestamptz, now()),
            %(timeout)s, %(unique_key)s, %(org_id)s, %(created_by)s, %(schedule_id)s,
            %(fire_time)s)
    ON CONFLICT DO NOTHING
    RETURNING id, queue, state
), woken AS (
    SELECT pg_notify('hourhand_jobs', queue) FROM ins WHERE state = 'queued'
)
SELECT id, (SELECT count(*) FROM woken) AS woken FROM ins

-- name: find_unique
-- The waiting or running job holding a unique key.
SELECT id FROM hourhand_jobs
WHERE name = %(name)s AND coalesce(org_id, '') = coalesce(%(org_id)s, '')
  AND unique_key = %(unique_key)s
  AND state IN ('scheduled', 'queued', 'running', 'retrying')

-- name: find_fire
-- The job made for a schedule's fire time.
SELECT id FROM hourhand_jobs WHERE schedule_id = %(schedule_id)s AND fire_time = %(fire_time)s

-- name: promote_due
-- Scheduled and retrying jobs whose time has come become queued; wake workers. Says in
-- how many seconds the next one is due, by this clock.
WITH due AS (
    SELECT id FROM hourhand_jobs
    WHERE state IN ('scheduled', 'retrying') AND run_at <= now()
    ORDER BY run_at
    LIMIT 10000
    FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE hourhand_jobs j SET state = 'queued'
    WHERE j.id = ANY(ARRAY(SELECT id FROM due))  -- primary-key lookups, whatever the statistics
    RETURNING j.queue
), woken AS (
    SELECT pg_notify('hourhand_jobs', queue) FROM (SELECT DISTINCT queue FROM moved) AS q
)
SELECT (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM woken) AS woken,
       CASE WHEN (SELECT count(*) FROM moved) >= 10000 THEN 0.0  -- more are due: at once
            ELSE extract(epoch FROM (SELECT min(run_at) FROM hourhand_jobs
                                     WHERE state IN ('scheduled', 'retrying') AND run_at > now())
                                    - now())::float8 END AS next_in

-- Claims never take jobs of a paused queue. (Workers also skip paused queues themselves:
-- when a queue with many jobs is paused, a claim of any queue would read past them all.)

-- name: claim_queue
-- Claim the next queued jobs of one queue.
UPDATE hourhand_jobs j
SET state = 'running', attempt = j.attempt + 1, worker_id = %(worker_id)s, started_at = now(),
    lease_expires_at = now() + %(lease)s * interval '1 second', cancel_requested = false,
    progress = NULL, progress_message = NULL
WHERE j.id = ANY(ARRAY(
        SELECT id FROM hourhand_jobs
        WHERE state = 'queued' AND queue = %(queue)s
          AND (%(names)s::text[] IS NULL OR name = ANY(%(names)s::text[]))
          AND NOT EXISTS (SELECT 1 FROM hourhand_queues WHERE name = %(queue)s AND paused)
        ORDER BY priority DESC, run_at, id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED))
-- (the columns of decode_claimed, in its order)
RETURNING j.id, j.queue, j.name, j.args::text, j.priority, j.attempt, j.max_attempts, j.run_at,
       j.timeout, j.unique_key, j.org_id, j.created_by, j.schedule_id, j.fire_time,
       j.error, j.worker_id, j.lease_expires_at, j.handbacks, j.created_at, j.started_at

-- name: claim_any
-- Claim the next queued jobs of any queue.
UPDATE hourhand_jobs j
SET state = 'running', attempt = j.attempt + 1, worker_id = %(worker_id)s, started_at = now(),
    lease_expires_at = now() + %(lease)s * interval '1 second', cancel_requested = false,
    progress = NULL, progress_message = NULL
WHERE j.id = ANY(ARRAY(
        SELECT id FROM hourhand_jobs
        WHERE state = 'queued' AND (%(names)s::text[] IS NULL OR name = ANY(%(names)s::text[]))
          AND queue <> ALL(ARRAY(SELECT name FROM hourhand_queues WHERE paused))
        ORDER BY priority DESC, run_at, id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED))
-- (the columns of decode_claimed, in its order)
RETURNING j.id, j.queue, j.name, j.args::text, j.priority, j.attempt, j.max_attempts, j.run_at,
       j.timeout, j.unique_key, j.org_id, j.created_by, j.schedule_id, j.fire_time,
       j.error, j.worker_id, j.lease_expires_at, j.handbacks, j.created_at, j.started_at

-- name: lock_name
-- Serialize claims of one concurrency-limited job type for this transaction.
SELECT pg_try_advisory_xact_lock(hashtextextended('hourhand:' || %(name)s, 0)) AS locked

-- name: count_running
-- How many jobs of one type are running.
SELECT count(*) AS n FROM hourhand_jobs WHERE state = 'running' AND name = %(name)s

-- name: claim_name
-- Claim the next queued jobs of one type (in the given queues, or any when null). Starts
-- are stamped with clock_timestamp(), as rate limits count them (see rate_window).
UPDATE hourhand_jobs j
SET state = 'running', attempt = j.attempt + 1, worker_id = %(worker_id)s,
    started_at = clock_timestamp(),
    lease_expires_at = now() + %(lease)s * interval '1 second', cancel_requested = false,
    progress = NULL, progress_message = NULL
WHERE j.id = ANY(ARRAY(
        SELECT id FROM hourhand_jobs
        WHERE state = 'queued' AND name = %(name)s
          AND (%(queues)s::text[] IS NULL OR queue = ANY(%(queues)s::text[]))
          AND queue <> ALL(ARRAY(SELECT name FROM hourhand_queues WHERE paused))
        ORDER BY priority DESC, run_at, id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED))
-- (the columns of decode_claimed, in its order)
RETURNING j.id, j.queue, j.name, j.args::text, j.priority, j.attempt, j.max_attempts, j.run_at,
       j.timeout, j.unique_key, j.org_id, j.created_by, j.schedule_id, j.fire_time,
       j.error, j.worker_id, j.lease_expires_at, j.handbacks, j.created_at, j.started_at

-- Rate limits: a sliding window of starts per job type (see hourhand.store.base
-- claim_of_type). Times are clock_timestamp(), not the transaction's start: a claimer that
-- waited for the type's lock then logs and counts starts after the previous holder's.

-- name: rate_forget
-- Let go of a type's starts older than its period.
DELETE FROM hourhand_rate_starts
WHERE name = %(name)s AND started_at <= clock_timestamp() - %(per)s * interval '1 second'

-- name: rate_window
-- A type's starts in the last %(per)s seconds and, when they reach %(max)s, in how many
-- seconds enough of them leave the window to allow one more start.
WITH c AS MATERIALIZED (SELECT clock_timestamp() AS now), w AS (
    SELECT r.started_at, r.starts,
           sum(r.starts) OVER (ORDER BY r.started_at ROWS UNBOUNDED PRECEDING) AS upto
    FROM hourhand_rate_starts r, c
    WHERE r.name = %(name)s AND r.started_at > c.now - %(per)s * interval '1 second'
), t AS (
    SELECT coalesce(sum(starts), 0)::int AS used FROM w
)
SELECT t.used, c.now,
       CASE WHEN t.used >= %(max)s
            THEN extract(epoch FROM (SELECT min(started_at) FROM w WHERE upto > t.used - %(max)s)
                                    + %(per)s * interval '1 second' - c.now)::float8
       END AS free_in
FROM t, c

-- name: rate_started
-- Log the starts of one claim of a rate-limited type, with the limit in force.
INSERT INTO hourhand_rate_starts (name, started_at, starts, max_starts, period)
VALUES (%(name)s, clock_timestamp(), %(starts)s, %(max)s, %(per)s)

-- name: rate_latest
-- The limit in force at a type's latest start.
SELECT max_starts, period FROM hourhand_rate_starts WHERE name = %(name)s
ORDER BY started_at DESC LIMIT 1

-- name: set_paused
-- Pause or resume a queue and tell the workers (they read the paused queues again and
-- wake up).
WITH changed AS (
    INSERT INTO hourhand_queues (name, paused, updated_at) VALUES (%(name)s, %(paused)s, now())
    ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at
    RETURNING name
)
SELECT name, pg_notify('hourhand_queues', name) AS told FROM changed

-- name: paused_queues
SELECT name FROM hourhand_queues WHERE paused

-- name: ready_queues
-- The queues holding queued jobs: one probe of the ready index per queue (a loose index
-- scan), however many jobs they hold.
WITH RECURSIVE q(queue) AS (
    SELECT (SELECT queue FROM hourhand_jobs WHERE state = 'queued' ORDER BY queue LIMIT 1)
    UNION ALL
    SELECT (SELECT j.queue FROM hourhand_jobs j
            WHERE j.state = 'queued' AND j.queue > q.queue ORDER BY j.queue LIMIT 1)
    FROM q WHERE q.queue IS NOT NULL
)
SELECT queue FROM q WHERE queue IS NOT NULL

-- name: list_queues
-- Queues with unfinished or failed jobs and queues ever paused (all, or one by name), with
-- their counts per state. One arm per partial index (ready, due, running, dead), so the
-- cost follows the jobs in those states, never the finished history.
SELECT name, bool_or(paused) AS paused, max(changed_at) AS changed_at,
       sum(ready)::bigint AS ready, sum(running)::bigint AS running,
       sum(scheduled)::bigint AS scheduled, sum(retrying)::bigint AS retrying,
       sum(failed)::bigint AS failed, min(oldest_ready_at) AS oldest_ready_at
FROM (
    SELECT queue AS name, false AS paused, NULL::timestamptz AS changed_at, count(*) AS ready,
           0 AS running, 0 AS scheduled, 0 AS retrying, 0 AS failed,
           min(run_at) AS oldest_ready_at
    FROM hourhand_jobs WHERE state = 'queued' AND (%(name)s::text IS NULL OR queue = %(name)s::text)
    GROUP BY queue
    UNION ALL
    SELECT queue, false, NULL, 0, count(*), 0, 0, 0, NULL
    FROM hourhand_jobs WHERE state = 'running' AND (%(name)s::text IS NULL OR queue = %(name)s::text)
    GROUP BY queue
    UNION ALL
    SELECT queue, false, NULL, 0, 0, count(*) FILTER (WHERE state = 'scheduled'),
           count(*) FILTER (WHERE state = 'retrying'), 0, NULL
    FROM hourhand_jobs
    WHERE state IN ('scheduled', 'retrying') AND (%(name)s::text IS NULL OR queue = %(name)s::text)
    GROUP BY queue
    UNION ALL
    SELECT queue, false, NULL, 0, 0, 0, 0, count(*), NULL
    FROM hourhand_jobs WHERE state = 'failed' AND (%(name)s::text IS NULL OR queue = %(name)s::text)
    GROUP BY queue
    UNION ALL
    SELECT name, paused, updated_at, 0, 0, 0, 0, 0, NULL FROM hourhand_queues
    WHERE %(name)s::text IS NULL OR name = %(name)s::text
) AS q
GROUP BY name ORDER BY name

-- Statements on one job or a batch of ids find their rows by primary key whatever the
-- planner's statistics say: a batch's ids come through ARRAY(SELECT ...), which the planner
-- cannot see into, and the fence tests the lease (set exactly while a job runs, a CHECK
-- constraint says so) rather than the state, so that the partial index of running jobs is
-- never a candidate. Their cost is linear in the batch, not in the running jobs.

-- name: heartbeat
-- Extend the lease of the jobs this worker still holds.
UPDATE hourhand_jobs j SET lease_expires_at = now() + %(lease)s * interval '1 second'
FROM unnest(%(ids)s::bigint[], %(attempts)s::int[]) AS h(id, attempt)
WHERE j.id = ANY(ARRAY(SELECT unnest(%(ids)s::bigint[])))
  AND j.id = h.id AND j.attempt = h.attempt AND j.worker_id = %(worker_id)s
  AND j.lease_expires_at IS NOT NULL
RETURNING j.id, j.attempt, j.cancel_requested

-- name: complete
-- Complete the jobs this worker still holds and record their attempts; for jobs made by a
-- schedule, record the outcome on it and on its ledger entry and release the run held
-- behind (one statement, so all of it commits or none).
WITH done AS (
    UPDATE hourhand_jobs j
    SET state = 'completed', result = c.result::jsonb, finished_at = now(),
        lease_expires_at = NULL, error = NULL, cancel_requested = false
    FROM unnest(%(ids)s::bigint[], %(attempts)s::int[], %(results)s::text[],
                %(durations)s::float8[]) AS c(id, attempt, result, duration)
    WHERE j.id = ANY(ARRAY(SELECT unnest(%(ids)s::bigint[])))
      AND j.id = c.id AND j.attempt = c.attempt AND j.worker_id = %(worker_id)s
      AND j.lease_expires_at IS NOT NULL
    RETURNING j.id, j.attempt, j.started_at, j.finished_at, c.duration, j.schedule_id,
              j.queue, j.name
), counted AS (
    -- the rollup (see Job statistics below): only what this statement completed
    INSERT INTO hourhand_job_stats AS s (minute, queue, name, shard, completed, duration_sum,
        b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11)
    SELECT date_trunc('minute', now()), queue, name, hashtext(%(worker_id)s) & 15, count(*),
           coalesce(sum(duration), 0),
           count(*) FILTER (WHERE duration <= 0.01),
           count(*) FILTER (WHERE duration > 0.01 AND duration <= 0.05),
           count(*) FILTER (WHERE duration > 0.05 AND duration <= 0.1),
           count(*) FILTER (WHERE duration > 0.1 AND duration <= 0.5),
           count(*) FILTER (WHERE duration > 0.5 AND duration <= 1),
           count(*) FILTER (WHERE duration > 1 AND duration <= 5),
           count(*) FILTER (WHERE duration > 5 AND duration <= 10),
           count(*) FILTER (WHERE duration > 10 AND duration <= 30),
           count(*) FILTER (WHERE duration > 30 AND duration <= 60),
           count(*) FILTER (WHERE duration > 60 AND duration <= 300),
           count(*) FILTER (WHERE duration > 300 AND duration <= 1800),
           count(*) FILTER (WHERE duration > 1800)
    FROM done GROUP BY queue, name
    ORDER BY queue, name  -- rows locked in one order
    ON CONFLICT (minute, queue, name, shard) DO UPDATE
    SET completed = s.completed + excluded.completed,
        duration_sum = s.duration_sum + excluded.duration_sum,
        b0 = s.b0 + excluded.b0, b1 = s.b1 + excluded.b1, b2 = s.b2 + excluded.b2,
        b3 = s.b3 + excluded.b3, b4 = s.b4 + excluded.b4, b5 = s.b5 + excluded.b5,
        b6 = s.b6 + excluded.b6, b7 = s.b7 + excluded.b7, b8 = s.b8 + excluded.b8,
        b9 = s.b9 + excluded.b9, b10 = s.b10 + excluded.b10, b11 = s.b11 + excluded.b11
), recorded AS (
    INSERT INTO hourhand_attempts (job_id, attempt, worker_id, started_at, finished_at,
                                   outcome, duration)
    SELECT id, attempt, %(worker_id)s, started_at, finished_at, 'completed', duration FROM done
), ran AS (
    UPDATE hourhand_schedules s SET last_status = 'completed', last_duration = d.duration
    FROM (SELECT DISTINCT ON (schedule_id) schedule_id, duration FROM done
          WHERE schedule_id IS NOT NULL ORDER BY schedule_id, id DESC) AS d
    WHERE s.id = d.schedule_id
), fired AS (
    -- the ledger (see The ledger below): only schedules' runs, found by job
    UPDATE hourhand_schedule_fires f SET outcome = 'completed', finished_at = d.finished_at
    FROM done d
    WHERE f.job_id = ANY(ARRAY(SELECT id FROM done WHERE schedule_id IS NOT NULL))
      AND f.job_id = d.id AND f.status IN ('enqueued', 'held', 'triggered')
), released AS (
    UPDATE hourhand_jobs h SET run_at = now()
    WHERE h.schedule_id = ANY(ARRAY(SELECT schedule_id FROM done WHERE schedule_id IS NOT NULL))
      AND h.state = 'scheduled' AND h.run_at >= %(hold)s
    RETURNING h.id
), released_fire AS (
    UPDATE hourhand_schedule_fires f SET due_at = now()
    WHERE f.job_id = ANY(ARRAY(SELECT id FROM released)) AND f.status = 'held'
)
SELECT id AS job_id, (SELECT pg_notify('hourhand_done', '')) AS notified FROM done

-- name: end_attempt
-- End an attempt that did not complete: retrying, failed, cancelled, or handed back (queued,
-- the attempt not counted). A job whose cancellation was requested ends cancelled instead.
-- Rescues also require the lease to have expired. For a job made by a schedule that ends
-- for good, the outcome goes on the schedule and its ledger entry, and the run held behind
-- it is released.
WITH ended AS (
    UPDATE hourhand_jobs
    SET state = CASE WHEN cancel_requested THEN 'cancelled' ELSE %(new_state)s::text END,
        run_at = CASE WHEN NOT cancel_requested AND %(new_state)s::text = 'retrying'
                      THEN now() + %(retry_in)s * interval '1 second' ELSE run_at END,
        attempt = CASE WHEN %(new_state)s::text = 'queued' THEN attempt - 1 ELSE attempt END,
        handbacks = CASE WHEN %(new_state)s::text = 'queued'
                         THEN handbacks + 1 ELSE handbacks END,
        error = CASE WHEN %(new_state)s::text = 'queued' AND NOT cancel_requested THEN error
                     ELSE coalesce(%(error)s::text, error) END,
        finished_at = CASE WHEN cancel_requested OR %(new_state)s::text IN ('failed', 'cancelled')
                           THEN now() ELSE NULL END,
        lease_expires_at = NULL, cancel_requested = false
    WHERE id = %(id)s AND attempt = %(attempt)s AND worker_id = %(worker_id)s
      AND lease_expires_at IS NOT NULL
      AND (NOT %(require_expired)s OR lease_expires_at < now())
    RETURNING id, started_at, queue, name, state, schedule_id
), recorded AS (
    INSERT INTO hourhand_attempts (job_id, attempt, worker_id, started_at, finished_at,
                                   outcome, duration, error, traceback)
    SELECT id, %(attempt)s, %(worker_id)s, started_at, now(), %(outcome)s,
           coalesce(%(duration)s::float8, extract(epoch FROM now() - started_at)),
           %(error)s, %(traceback)s
    FROM ended
    RETURNING job_id, duration
), counted AS (
    -- the rollup: a failed attempt (failed, timeout, lost) with its duration; a job that
    -- ended failed (dead) or cancelled
    INSERT INTO hourhand_job_stats AS s (minute, queue, name, shard, failed, dead, cancelled,
        duration_sum, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11)
    SELECT date_trunc('minute', now()), e.queue, e.name, hashtext(%(worker_id)s) & 15,
           count(*), count(*) FILTER (WHERE e.state = 'failed'),
           count(*) FILTER (WHERE e.state = 'cancelled'),
           coalesce(sum(duration), 0),
           count(*) FILTER (WHERE duration <= 0.01),
           count(*) FILTER (WHERE duration > 0.01 AND duration <= 0.05),
           count(*) FILTER (WHERE duration > 0.05 AND duration <= 0.1),
           count(*) FILTER (WHERE duration > 0.1 AND duration <= 0.5),
           count(*) FILTER (WHERE duration > 0.5 AND duration <= 1),
           count(*) FILTER (WHERE duration > 1 AND duration <= 5),
           count(*) FILTER (WHERE duration > 5 AND duration <= 10),
           count(*) FILTER (WHERE duration > 10 AND duration <= 30),
           count(*) FILTER (WHERE duration > 30 AND duration <= 60),
           count(*) FILTER (WHERE duration > 60 AND duration <= 300),
           count(*) FILTER (WHERE duration > 300 AND duration <= 1800),
           count(*) FILTER (WHERE duration > 1800)
    FROM ended e JOIN recorded r ON r.job_id = e.id
    WHERE %(outcome)s::text IN ('failed', 'timeout', 'lost')
    GROUP BY e.queue, e.name
    UNION ALL
    SELECT date_trunc('minute', now()), queue, name, hashtext(%(worker_id)s) & 15,
           0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    FROM ended
    WHERE %(outcome)s::text NOT IN ('failed', 'timeout', 'lost') AND state = 'cancelled'
    ON CONFLICT (minute, queue, name, shard) DO UPDATE
    SET failed = s.failed + excluded.failed, dead = s.dead + excluded.dead,
        cancelled = s.cancelled + excluded.cancelled,
        duration_sum = s.duration_sum + excluded.duration_sum,
        b0 = s.b0 + excluded.b0, b1 = s.b1 + excluded.b1, b2 = s.b2 + excluded.b2,
        b3 = s.b3 + excluded.b3, b4 = s.b4 + excluded.b4, b5 = s.b5 + excluded.b5,
        b6 = s.b6 + excluded.b6, b7 = s.b7 + excluded.b7, b8 = s.b8 + excluded.b8,
        b9 = s.b9 + excluded.b9, b10 = s.b10 + excluded.b10, b11 = s.b11 + excluded.b11
), ran AS (
    UPDATE hourhand_schedules s SET last_status = e.state, last_duration = r.duration
    FROM ended e JOIN recorded r ON r.job_id = e.id
    WHERE s.id = e.schedule_id AND e.state <> 'queued'
), fired AS (
    UPDATE hourhand_schedule_fires f SET outcome = e.state, finished_at = now()
    FROM ended e
    WHERE f.job_id = ANY(ARRAY(SELECT id FROM ended WHERE schedule_id IS NOT NULL
                                                      AND state IN ('failed', 'cancelled')))
      AND f.job_id = e.id AND f.status IN ('enqueued', 'held', 'triggered')
), released AS (
    UPDATE hourhand_jobs h SET run_at = now()
    WHERE h.schedule_id = (SELECT schedule_id FROM ended WHERE state IN ('failed', 'cancelled'))
      AND h.state = 'scheduled' AND h.run_at >= %(hold)s
    RETURNING h.id
), released_fire AS (
    UPDATE hourhand_schedule_fires f SET due_at = now()
    WHERE f.job_id = ANY(ARRAY(SELECT id FROM released)) AND f.status = 'held'
), woken AS (
    SELECT pg_notify('hourhand_jobs', queue) FROM ended WHERE state = 'queued'
    UNION ALL
    SELECT pg_notify('hourhand_done', '') FROM ended WHERE state IN ('failed', 'cancelled')
)
SELECT id AS job_id, state, (SELECT count(*) FROM woken) AS woken FROM ended

-- name: expired
-- Running jobs whose lease has expired.
SELECT * FROM hourhand_jobs WHERE state = 'running' AND lease_expires_at < now()
ORDER BY lease_expires_at LIMIT %(limit)s

-- name: release_unheld
-- Give back the running jobs of this worker that it does not hold (their claim's reply was
-- lost): queued again with the attempt not counted, or cancelled if that was asked.
WITH released AS (
    UPDATE hourhand_jobs
    SET state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END,
        attempt = attempt - 1, lease_expires_at = NULL, cancel_requested = false,
        finished_at = CASE WHEN cancel_requested THEN now() ELSE NULL END
    WHERE state = 'running' AND worker_id = %(worker_id)s AND NOT (id = ANY(%(held)s::bigint[]))
    RETURNING id, queue, name, state, schedule_id
), counted AS (  -- the rollup: jobs that ended cancelled
    INSERT INTO hourhand_job_stats AS s (minute, queue, name, shard, cancelled)
    SELECT date_trunc('minute', now()), queue, name, hashtext(%(worker_id)s) & 15, count(*)
    FROM released WHERE state = 'cancelled'
    GROUP BY queue, name ORDER BY queue, name
    ON CONFLICT (minute, queue, name, shard) DO UPDATE SET cancelled = s.cancelled + excluded.cancelled
), ran AS (
    UPDATE hourhand_schedules s SET last_status = 'cancelled', last_duration = NULL
    FROM released r WHERE s.id = r.schedule_id AND r.state = 'cancelled'
), fired AS (
    UPDATE hourhand_schedule_fires f SET outcome = 'cancelled', finished_at = now()
    WHERE f.job_id = ANY(ARRAY(SELECT id FROM released
                               WHERE state = 'cancelled' AND schedule_id IS NOT NULL))
      AND f.status IN ('enqueued', 'held', 'triggered')
), unheld AS (
    UPDATE hourhand_jobs h SET run_at = now()
    WHERE h.schedule_id = ANY(ARRAY(SELECT schedule_id FROM released
                                    WHERE state = 'cancelled' AND schedule_id IS NOT NULL))
      AND h.state = 'scheduled' AND h.run_at >= %(hold)s
    RETURNING h.id
), unheld_fire AS (
    UPDATE hourhand_schedule_fires f SET due_at = now()
    WHERE f.job_id = ANY(ARRAY(SELECT id FROM unheld)) AND f.status = 'held'
), woken AS (
    SELECT pg_notify('hourhand_jobs', queue)
    FROM (SELECT DISTINCT queue FROM released WHERE state = 'queued') AS q
    UNION ALL
    SELECT pg_notify('hourhand_done', '') FROM released WHERE state = 'cancelled'
)
SELECT id, (SELECT count(*) FROM woken) AS woken FROM released

-- name: recorded
-- Which of these (job, attempt) pairs this worker has recorded an end for.
SELECT DISTINCT a.job_id
FROM hourhand_attempts a
JOIN unnest(%(ids)s::bigint[], %(attempts)s::int[]) AS p(id, attempt)
  ON a.job_id = p.id AND a.attempt = p.attempt
WHERE a.job_id = ANY(ARRAY(SELECT unnest(%(ids)s::bigint[]))) AND a.worker_id = %(worker_id)s
  AND a.outcome = %(outcome)s

-- name: set_progress
-- Record progress on a job this worker still holds.
UPDATE hourhand_jobs SET progress = %(percent)s, progress_message = %(message)s
WHERE id = %(id)s AND attempt = %(attempt)s AND worker_id = %(worker_id)s
  AND lease_expires_at IS NOT NULL

-- name: get_job
SELECT * FROM hourhand_jobs WHERE id = %(id)s

-- name: get_jobs
SELECT * FROM hourhand_jobs WHERE id = ANY(%(ids)s::bigint[])

-- name: list_attempts
SELECT * FROM hourhand_attempts WHERE job_id = %(job_id)s ORDER BY id

-- name: cancel_waiting
-- Cancel a job that has not started; a schedule's run records that on its schedule and its
-- ledger entry, and releases the run held behind it.
WITH cancelled AS (
    UPDATE hourhand_jobs SET state = 'cancelled', finished_at = now()
    WHERE id = %(id)s AND state IN ('scheduled', 'queued', 'retrying')
    RETURNING *
), counted AS (  -- the rollup (shard 0: an operator's call, not a worker's)
    INSERT INTO hourhand_job_stats AS s (minute, queue, name, shard, cancelled)
    SELECT date_trunc('minute', now()), queue, name, 0, 1 FROM cancelled
    ON CONFLICT (minute, queue, name, shard) DO UPDATE SET cancelled = s.cancelled + 1
), ran AS (
    UPDATE hourhand_schedules s SET last_status = 'cancelled', last_duration = NULL
    FROM cancelled c WHERE s.id = c.schedule_id
), fired AS (
    UPDATE hourhand_schedule_fires f SET outcome = 'cancelled', finished_at = now()
    WHERE f.job_id = ANY(ARRAY(SELECT id FROM cancelled WHERE schedule_id IS NOT NULL))
      AND f.status IN ('enqueued', 'held', 'triggered')
), released AS (
    UPDATE hourhand_jobs h SET run_at = now()
    WHERE h.schedule_id = (SELECT schedule_id FROM cancelled) AND h.id <> %(id)s
      AND h.state = 'scheduled' AND h.run_at >= %(hold)s
    RETURNING h.id
), released_fire AS (
    UPDATE hourhand_schedule_fires f SET due_at = now()
    WHERE f.job_id = ANY(ARRAY(SELECT id FROM released)) AND f.status = 'held'
)
SELECT cancelled.*, pg_notify('hourhand_done', '') AS notified FROM cancelled

-- name: request_cancel
-- Ask the worker running a job to stop it.
WITH flagged AS (
    UPDATE hourhand_jobs SET cancel_requested = true
    WHERE id = %(id)s AND lease_expires_at IS NOT NULL  -- running (see the fences above)
    RETURNING *
)
SELECT flagged.*, pg_notify('hourhand_cancel', id::text) AS notified FROM flagged

-- name: retry_job
-- Queue a failed, cancelled or waiting job to run now (or, with a delay, schedule it), with
-- at least one attempt left.
WITH requeued AS (
    UPDATE hourhand_jobs
    SET state = CASE WHEN %(delay)s::float8 > 0 THEN 'scheduled' ELSE 'queued' END,
        run_at = now() + %(delay)s::float8 * interval '1 second',
        max_attempts = greatest(max_attempts, attempt + 1),
        finished_at = NULL, cancel_requested = false
    WHERE id = %(id)s AND state IN ('failed', 'cancelled', 'retrying', 'scheduled')
      AND (%(expect)s::text IS NULL OR state = %(expect)s::text)
    RETURNING id, queue, state
)
SELECT id, CASE WHEN state = 'queued' THEN pg_notify('hourhand_jobs', queue) END FROM requeued

-- name: delete_job
-- Delete a finished job, and its attempts.
WITH gone AS (
    DELETE FROM hourhand_jobs
    WHERE id = %(id)s AND state IN ('completed', 'failed', 'cancelled') RETURNING id
), attempts AS (
    DELETE FROM hourhand_attempts WHERE job_id IN (SELECT id FROM gone)
)
SELECT id FROM gone

-- name: count_by_state
-- Jobs per state without reading the history: the waiting, running and dead-letter jobs
-- through their partial indexes (run with sequential scans ruled out, whatever the
-- statistics say); completed and cancelled jobs are the rollup's totals (count_finished).
SELECT 'queued' AS state, count(*) AS n FROM hourhand_jobs WHERE state = 'queued'
UNION ALL
SELECT 'running', count(*) FROM hourhand_jobs WHERE state = 'running'
UNION ALL
SELECT state, count(*) FROM hourhand_jobs WHERE state IN ('scheduled', 'retrying')
GROUP BY state
UNION ALL
SELECT 'failed', count(*) FROM hourhand_jobs WHERE state = 'failed'

-- name: count_finished
-- Jobs that ever completed or ended cancelled, from the rollup (pruning leaves it alone):
-- the totals at the epoch (the minutes before the mark) and the minutes from the mark on.
SELECT coalesce(sum(completed), 0)::bigint AS completed,
       coalesce(sum(cancelled), 0)::bigint AS cancelled
FROM hourhand_job_stats
WHERE minute = 'epoch' OR minute >= (SELECT upto FROM hourhand_stats_mark WHERE id = 1)

-- Job statistics (hourhand_job_stats): a row per (minute, queue, job type, shard), added to
-- by complete, end_attempt, release_unheld and cancel_waiting in the same statement as the
-- state change. The shard is hashtext(worker_id) & 15: workers finishing jobs of one type
-- in the same minute mostly write different rows, so they do not wait on each other's row
-- lock. Compacted history is one row per (queue, job type) at the epoch, shard 0.

-- name: stats_totals
-- Everything counted, per (queue, job type): the totals at the epoch (every minute before
-- the mark) and the minutes from the mark on (an hour or two of them: compaction moves the
-- mark), never the two days of minutes kept for the series.
SELECT queue, name, sum(completed)::bigint AS completed, sum(failed)::bigint AS failed,
       sum(dead)::bigint AS dead, sum(cancelled)::bigint AS cancelled,
       sum(duration_sum) AS duration_sum,
       sum(b0)::bigint AS b0, sum(b1)::bigint AS b1, sum(b2)::bigint AS b2,
       sum(b3)::bigint AS b3, sum(b4)::bigint AS b4, sum(b5)::bigint AS b5,
       sum(b6)::bigint AS b6, sum(b7)::bigint AS b7, sum(b8)::bigint AS b8,
       sum(b9)::bigint AS b9, sum(b10)::bigint AS b10, sum(b11)::bigint AS b11
FROM hourhand_job_stats
WHERE minute = 'epoch' OR minute >= (SELECT upto FROM hourhand_stats_mark WHERE id = 1)
GROUP BY queue, name ORDER BY queue, name

-- name: stats_series
-- Per minute from %(since)s (to %(until)s), summed over shards and the queues and job types
-- asked for; compacted history (the epoch) is not a minute.
SELECT minute, sum(completed)::bigint AS completed, sum(failed)::bigint AS failed,
       sum(dead)::bigint AS dead, sum(cancelled)::bigint AS cancelled,
       sum(duration_sum) AS duration_sum,
       sum(b0 + b1 + b2 + b3 + b4 + b5 + b6 + b7 + b8 + b9 + b10 + b11)::bigint AS durations
FROM hourhand_job_stats
WHERE minute >= %(since)s AND minute > 'epoch'
  AND (%(until)s::timestamptz IS NULL OR minute < %(until)s::timestamptz)
  AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
  AND (%(name)s::text IS NULL OR name = %(name)s::text)
GROUP BY minute ORDER BY minute

-- name: compact_stats
-- Under the mark's lock: add the minutes from the mark up to %(upto)s to the totals at the
-- epoch and move the mark there; delete the minute rows older than %(before)s that are
-- below the mark (counted); merge the shards of each minute that ended over 5 minutes ago
-- into its shard 0 (no worker writes to it any more). Totals and series do not change;
-- what totals sum stays the epoch's rows and an hour or two of minutes. Says how many rows
-- were deleted or merged. (Minutes newer than the mark stay out of the totals until a
-- later compaction: %(upto)s is an hour behind the clock, far behind any transaction that
-- could still add to a minute.)
WITH mark AS (  -- (never past this minute's start, whatever is asked)
    SELECT upto, least(%(upto)s, date_trunc('minute', now())) AS target
    FROM hourhand_stats_mark WHERE id = 1 FOR UPDATE
), counted AS (
    SELECT s.queue, s.name, s.completed, s.failed, s.dead, s.cancelled, s.duration_sum,
           s.b0, s.b1, s.b2, s.b3, s.b4, s.b5, s.b6, s.b7, s.b8, s.b9, s.b10, s.b11
    FROM hourhand_job_stats s, mark
    WHERE s.minute > 'epoch' AND s.minute >= mark.upto AND s.minute < mark.target
), old AS (
    DELETE FROM hourhand_job_stats s USING mark
    WHERE s.minute > 'epoch' AND s.minute < least(%(before)s, greatest(mark.upto, mark.target))
    RETURNING s.minute
), sharded AS (
    DELETE FROM hourhand_job_stats
    WHERE minute >= %(before)s AND minute < now() - interval '6 minutes' AND shard <> 0
    RETURNING *
), moved AS (
    SELECT 'epoch'::timestamptz AS minute, * FROM counted
    UNION ALL
    SELECT minute, queue, name, completed, failed, dead, cancelled, duration_sum, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11
    FROM sharded
), folded AS (
    INSERT INTO hourhand_job_stats AS s (minute, queue, name, shard, completed, failed, dead,
        cancelled, duration_sum, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11)
    SELECT minute, queue, name, 0, sum(completed), sum(failed), sum(dead), sum(cancelled),
           sum(duration_sum), sum(b0), sum(b1), sum(b2), sum(b3), sum(b4), sum(b5), sum(b6), sum(b7), sum(b8), sum(b9), sum(b10), sum(b11)
    FROM moved GROUP BY minute, queue, name ORDER BY minute, queue, name
    ON CONFLICT (minute, queue, name, shard) DO UPDATE
    SET completed = s.completed + excluded.completed, failed = s.failed + excluded.failed,
        dead = s.dead + excluded.dead, cancelled = s.cancelled + excluded.cancelled,
        duration_sum = s.duration_sum + excluded.duration_sum,
        b0 = s.b0 + excluded.b0, b1 = s.b1 + excluded.b1, b2 = s.b2 + excluded.b2,
        b3 = s.b3 + excluded.b3, b4 = s.b4 + excluded.b4, b5 = s.b5 + excluded.b5,
        b6 = s.b6 + excluded.b6, b7 = s.b7 + excluded.b7, b8 = s.b8 + excluded.b8,
        b9 = s.b9 + excluded.b9, b10 = s.b10 + excluded.b10, b11 = s.b11 + excluded.b11
), marked AS (
    UPDATE hourhand_stats_mark m SET upto = greatest(m.upto, mark.target) FROM mark
    WHERE m.id = 1
)
SELECT (SELECT count(*) FROM old) + (SELECT count(*) FROM sharded) AS n

-- name: count_prunable
-- Jobs per state that prune_jobs would delete (a dry run).
SELECT state, count(*) AS n FROM hourhand_jobs
WHERE state = ANY(%(states)s::text[]) AND finished_at < %(before)s
  AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
  AND queue <> ALL(%(except_queues)s::text[])
GROUP BY state

-- name: prune_jobs
-- Delete up to %(limit)s finished jobs (of the given states and queues) that finished
-- before %(before)s, the lowest ids in (after_id, upto_id], and their attempts; rows
-- another transaction holds are skipped. The rollup keeps what they counted. Planned as a
-- walk of the primary key from after_id (see PRUNE_PLANNING), so that a batch reads about
-- as many rows as it deletes, however many it deleted before.
WITH batch AS (
    SELECT id FROM hourhand_jobs
    WHERE id > %(after_id)s AND id <= %(upto_id)s
      AND state = ANY(%(states)s::text[]) AND finished_at < %(before)s
      AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
      AND queue <> ALL(%(except_queues)s::text[])
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM hourhand_jobs
    WHERE id = ANY(ARRAY(SELECT id FROM batch)) AND state = ANY(%(states)s::text[])
    RETURNING id
), attempts AS (
    DELETE FROM hourhand_attempts WHERE job_id = ANY(ARRAY(SELECT id FROM gone))
)
SELECT (SELECT count(*) FROM batch) AS found, (SELECT count(*) FROM gone) AS deleted,
       (SELECT max(id) FROM batch) AS last_id

-- name: first_job_from
SELECT id, created_at FROM hourhand_jobs WHERE id >= %(id)s ORDER BY id LIMIT 1

-- name: last_job_id
SELECT max(id) AS id FROM hourhand_jobs

-- name: insert_schedule
INSERT INTO hourhand_schedules (name, org_id, source, job, args, cron, tz, enabled, queue,
    priority, max_attempts, timeout, misfire, misfire_cap, catchup_window, overlap, jitter,
    created_by, next_fire_at, defined_enabled, disabled_at)
VALUES (%(name)s, %(org_id)s, %(source)s, %(job)s, %(args)s::jsonb, %(cron)s, %(tz)s,
    %(enabled)s, %(queue)s, %(priority)s, %(max_attempts)s, %(timeout)s, %(misfire)s,
    %(misfire_cap)s, %(catchup_window)s, %(overlap)s, %(jitter)s, %(created_by)s,
    %(next_fire_at)s, %(enabled)s, CASE WHEN %(enabled)s THEN NULL ELSE now() END)
RETURNING *

-- name: get_schedule
SELECT * FROM hourhand_schedules WHERE id = %(id)s

-- name: find_schedule
SELECT * FROM hourhand_schedules
WHERE name = %(name)s AND coalesce(org_id, '') = coalesce(%(org_id)s::text, '')

-- name: list_schedules
SELECT * FROM hourhand_schedules
WHERE (%(org_id)s::text IS NULL OR org_id = %(org_id)s::text)
  AND (%(source)s::text IS NULL OR source = %(source)s::text)
ORDER BY coalesce(org_id, ''), name

-- name: delete_schedule
DELETE FROM hourhand_schedules WHERE id = %(id)s RETURNING id

-- name: due_schedules
-- Enabled schedules whose next fire time has come.
SELECT * FROM hourhand_schedules WHERE enabled AND next_fire_at <= %(now)s
ORDER BY next_fire_at LIMIT %(limit)s

-- name: next_schedule_due
SELECT min(next_fire_at) AS next_due FROM hourhand_schedules WHERE enabled

-- name: lock_fire
-- The schedule, locked until the fire commits, if its next fire time is still the one this
-- scheduler read: a scheduler that lost the race (it waits for the winner's commit, then
-- finds the time moved) or a schedule changed meanwhile fires nothing.
SELECT id FROM hourhand_schedules
WHERE id = %(id)s AND enabled AND next_fire_at = %(expected)s
FOR UPDATE

-- name: advance_schedule
-- Move a schedule's next fire time on, unless another scheduler already did. The fire
-- times it was disabled for are in the ledger now.
UPDATE hourhand_schedules
SET next_fire_at = %(next_fire_at)s,
    last_fire_at = coalesce(%(fired_at)s, last_fire_at),
    last_job_id = coalesce(%(job_id)s, last_job_id),
    disabled_at = NULL,
    updated_at = now()
WHERE id = %(id)s AND enabled AND next_fire_at = %(expected)s
RETURNING id

-- name: schedule_activity
-- How many of a schedule's jobs wait and run (for its overlap policy).
SELECT count(*) FILTER (WHERE state IN ('scheduled', 'queued', 'retrying')) AS waiting,
       count(*) FILTER (WHERE state = 'running') AS running
FROM hourhand_jobs
WHERE schedule_id = %(schedule_id)s
  AND state IN ('scheduled', 'queued', 'retrying', 'running')

-- name: schedule_jobs
SELECT * FROM hourhand_jobs WHERE schedule_id = %(schedule_id)s ORDER BY id DESC
LIMIT %(limit)s

-- The ledger of fire times (hourhand_schedule_fires; store/fires.py): one row per fire
-- time of a schedule and per run made by hand, written with the fire (fire_schedule) or the
-- trigger; complete, end_attempt, release_unheld and cancel_waiting copy a run's outcome
-- onto its row, found through the partial index on job_id, and set the due time of a held
-- run they release. Those statements touch the ledger only for jobs with a schedule_id:
-- for other jobs the job ids they look up form an empty array, which no index is read for.

-- name: insert_fires
-- A fire's ledger rows; a fire time that has one already keeps it.
INSERT INTO hourhand_schedule_fires (schedule_id, fire_time, status, due_at, job_id, unlisted)
SELECT %(schedule_id)s, f, s, d, j, u
FROM unnest(%(fire_times)s::timestamptz[], %(statuses)s::text[], %(due)s::timestamptz[],
            %(job_ids)s::bigint[], %(unlisted)s::int[]) AS x(f, s, d, j, u)
ON CONFLICT (schedule_id, fire_time) DO NOTHING

-- name: insert_trigger_fire
-- The ledger row of a run made by hand: its time is the job's creation, or a microsecond
-- after the schedule's latest entry when that is as late (each run made by hand keeps an
-- entry).
INSERT INTO hourhand_schedule_fires (schedule_id, fire_time, status, recorded_at, due_at,
                                     job_id)
SELECT j.schedule_id,
       greatest(j.created_at,
                (SELECT max(f.fire_time) + interval '1 microsecond'
                 FROM hourhand_schedule_fires f
                 WHERE f.schedule_id = j.schedule_id AND f.fire_time >= j.created_at)),
       'triggered', j.created_at, j.run_at, j.id
FROM hourhand_jobs j WHERE j.id = %(job_id)s AND j.schedule_id IS NOT NULL
ON CONFLICT (schedule_id, fire_time) DO NOTHING

-- name: schedule_fires
-- A schedule's ledger, newest first, before a fire time (keyset: the primary key read
-- backwards from there).
SELECT * FROM hourhand_schedule_fires
WHERE schedule_id = %(schedule_id)s
  AND fire_time < coalesce(%(before)s::timestamptz, 'infinity')
ORDER BY fire_time DESC
LIMIT %(limit)s

-- name: latest_fires
-- The newest row per schedule (of the ids given, or all), runs made by hand left out: one
-- backward probe of the primary key per schedule.
SELECT f.* FROM hourhand_schedules s
CROSS JOIN LATERAL (
    SELECT * FROM hourhand_schedule_fires g
    WHERE g.schedule_id = s.id AND g.status <> 'triggered'
    ORDER BY g.fire_time DESC
    LIMIT 1
) AS f
WHERE %(ids)s::bigint[] IS NULL OR s.id = ANY(%(ids)s::bigint[])

-- name: last_successes
-- When each schedule's newest successful run ended (of the ids given, or all): one
-- backward probe of the success index per schedule.
SELECT s.id AS schedule_id,
       (SELECT max(f.finished_at) FROM hourhand_schedule_fires f
        WHERE f.schedule_id = s.id AND f.outcome = 'completed') AS at
FROM hourhand_schedules s
WHERE %(ids)s::bigint[] IS NULL OR s.id = ANY(%(ids)s::bigint[])

-- name: ready_by_type
-- Ready jobs per (queue, job type): the queue length metric. Reads the ready jobs only.
SELECT queue, name, count(*) AS n FROM hourhand_jobs WHERE state = 'queued'
GROUP BY queue, name ORDER BY queue, name

-- name: prune_fires
-- A batch of a schedule's oldest ledger entries before a time (its primary key's range),
-- never its newest success (its last-success metric and the dead man's switch read it).
DELETE FROM hourhand_schedule_fires
WHERE schedule_id = %(schedule_id)s
  AND fire_time IN (
      SELECT fire_time FROM hourhand_schedule_fires
      WHERE schedule_id = %(schedule_id)s AND fire_time < %(before)s
        AND fire_time IS DISTINCT FROM (
            SELECT fire_time FROM hourhand_schedule_fires
            WHERE schedule_id = %(schedule_id)s AND outcome = 'completed'
            ORDER BY finished_at DESC LIMIT 1)
      ORDER BY fire_time LIMIT %(limit)s)
