-- Named queries for SQLite. NOW() stands for the database clock in Unix seconds and is
-- expanded by the store; :name parameters.

-- name: insert_job
-- Insert one job; nothing if its unique key or fire time is taken.
INSERT INTO hourhand_jobs (queue, name, args, state, priority, max_attempts, run_at, timeout,
                           unique_key, org_id, created_by, schedule_id, fire_time, created_at)
VALUES (:queue, :name, :args,
        CASE WHEN coalesce(:run_at, NOW()) > NOW() THEN 'scheduled' ELSE 'queued' END,
        :priority, :max_attempts, coalesce(:run_at, NOW()), :timeout,
        :unique_key, :org_id, :created_by, :schedule_id, :fire_time, NOW())
ON CONFLICT DO NOTHING
RETURNING id

-- name: insert_alike
-- Insert many jobs alike but for their args (keyless: no conflict is possible), the args
-- sent as one JSON array, the rest once. Rows are inserted in the array's order, so their
-- ids follow it.
INSERT INTO hourhand_jobs (queue, name, args, state, priority, max_attempts, run_at, timeout,
                           org_id, created_by, created_at)
SELECT :queue, :name, a.value,
       CASE WHEN coalesce(:run_at, NOW()) > NOW() THEN 'scheduled' ELSE 'queued' END,
       :priority, :max_attempts, coalesce(:run_at, NOW()), :timeout, :org_id, :created_by, NOW()
FROM json_each(:args) AS a
ORDER BY a.key
RETURNING id

-- name: find_unique
-- The waiting or running job holding a unique key.
SELECT id FROM hourhand_jobs
WHERE name = :name AND coalesce(org_id, '') = coalesce(:org_id, '') AND unique_key = :unique_key
  AND state IN ('scheduled', 'queued', 'running', 'retrying')

-- name: find_fire
-- The job made for a schedule's fire time.
SELECT id FROM hourhand_jobs WHERE schedule_id = :schedule_id AND fire_time = :fire_time

-- name: promote_due
-- Scheduled and retrying jobs whose time has come become queued.
UPDATE hourhand_jobs SET state = 'queued'
WHERE state IN ('scheduled', 'retrying') AND run_at <= NOW()

-- name: next_due
-- In how many seconds the next scheduled or retrying job becomes due, by this clock.
SELECT min(run_at) - NOW() AS next_in FROM hourhand_jobs WHERE state IN ('scheduled', 'retrying')

-- Claims never take jobs of a paused queue. (Workers also skip paused queues themselves:
-- when a queue with many jobs is paused, a claim of any queue would read past them all.)
-- "No queue is paused" is checked once per statement, so that claims cost nothing more
-- while none is.

-- name: claim_queue
-- Claim the next queued jobs of one queue.
UPDATE hourhand_jobs
SET state = 'running', attempt = attempt + 1, worker_id = :worker_id, started_at = NOW(),
    lease_expires_at = NOW() + :lease, cancel_requested = 0, progress = NULL,
    progress_message = NULL
WHERE id IN (
    SELECT id FROM hourhand_jobs
    WHERE state = 'queued' AND queue = :queue
      AND (:names IS NULL OR name IN (SELECT value FROM json_each(:names)))
      AND NOT EXISTS (SELECT 1 FROM hourhand_queues WHERE name = :queue AND paused)
    ORDER BY priority DESC, run_at, id
    LIMIT :limit)
-- (the columns of decode_claimed, in its order)
RETURNING id, queue, name, args, priority, attempt, max_attempts, run_at, timeout,
       unique_key, org_id, created_by, schedule_id, fire_time, error, worker_id,
       lease_expires_at, handbacks, created_at, started_at

-- name: claim_any
-- Claim the next queued jobs of any queue.
UPDATE hourhand_jobs
SET state = 'running', attempt = attempt + 1, worker_id = :worker_id, started_at = NOW(),
    lease_expires_at = NOW() + :lease, cancel_requested = 0, progress = NULL,
    progress_message = NULL
WHERE id IN (
    SELECT id FROM hourhand_jobs
    WHERE state = 'queued'
      AND (:names IS NULL OR name IN (SELECT value FROM json_each(:names)))
      AND (NOT EXISTS (SELECT 1 FROM hourhand_queues WHERE paused)
           OR queue NOT IN (SELECT name FROM hourhand_queues WHERE paused))
    ORDER BY priority DESC, run_at, id
    LIMIT :limit)
-- (the columns of decode_claimed, in its order)
RETURNING id, queue, name, args, priority, attempt, max_attempts, run_at, timeout,
       unique_key, org_id, created_by, schedule_id, fire_time, error, worker_id,
       lease_expires_at, handbacks, created_at, started_at

-- name: count_running
-- How many jobs of one type are running.
SELECT count(*) AS n FROM hourhand_jobs WHERE state = 'running' AND name = :name

-- name: claim_name
-- Claim the next queued jobs of one type (in the given queues, or any when null).
UPDATE hourhand_jobs
SET state = 'running', attempt = attempt + 1, worker_id = :worker_id, started_at = NOW(),
    lease_expires_at = NOW() + :lease, cancel_requested = 0, progress = NULL,
    progress_message = NULL
WHERE id IN (
    SELECT id FROM hourhand_jobs
    WHERE state = 'queued' AND name = :name
      AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
      AND (NOT EXISTS (SELECT 1 FROM hourhand_queues WHERE paused)
           OR queue NOT IN (SELECT name FROM hourhand_queues WHERE paused))
    ORDER BY priority DESC, run_at, id
    LIMIT :limit)
-- (the columns of decode_claimed, in its order)
RETURNING id, queue, name, args, priority, attempt, max_attempts, run_at, timeout,
       unique_key, org_id, created_by, schedule_id, fire_time, error, worker_id,
       lease_expires_at, handbacks, created_at, started_at

-- Rate limits: a sliding window of starts per job type (see hourhand.store.base
-- claim_of_type), counted under the write lock.

-- name: rate_forget
-- Let go of a type's starts older than its period.
DELETE FROM hourhand_rate_starts WHERE name = :name AND started_at <= NOW() - :per

-- name: rate_window
-- A type's starts in the last :per seconds and, when they reach :max, in how many seconds
-- enough of them leave the window to allow one more start.
WITH w AS (
    SELECT started_at, starts,
           sum(starts) OVER (ORDER BY started_at ROWS UNBOUNDED PRECEDING) AS upto
    FROM hourhand_rate_starts WHERE name = :name AND started_at > NOW() - :per
), t AS (
    SELECT coalesce(sum(starts), 0) AS used FROM w
)
SELECT t.used AS used, NOW() AS now,
       CASE WHEN t.used >= :max
            THEN (SELECT min(started_at) FROM w WHERE upto > t.used - :max) + :per - NOW()
       END AS free_in
FROM t

-- name: rate_started
-- Log the starts of one claim of a rate-limited type, with the limit in force.
INSERT INTO hourhand_rate_starts (name, started_at, starts, max_starts, period)
VALUES (:name, NOW(), :starts, :max, :per)

-- name: rate_latest
-- The limit in force at a type's latest start.
SELECT max_starts, period FROM hourhand_rate_starts WHERE name = :name
ORDER BY started_at DESC LIMIT 1

-- name: heartbeat
-- Extend the lease of a job this worker still holds.
UPDATE hourhand_jobs SET lease_expires_at = NOW() + :lease
WHERE id = :id AND attempt = :attempt AND worker_id = :worker_id AND state = 'running'
RETURNING id, cancel_requested

-- name: complete
-- Complete a job this worker still holds.
UPDATE hourhand_jobs
SET state = 'completed', result = :result, finished_at = NOW(), lease_expires_at = NULL,
    error = NULL, cancel_requested = 0
WHERE id = :id AND attempt = :attempt AND worker_id = :worker_id AND state = 'running'
RETURNING id, started_at, finished_at, schedule_id, queue, name

-- name: end_attempt
-- End an attempt that did not complete: retrying, failed, cancelled, or handed back (queued,
-- the attempt not counted). A job whose cancellation was requested ends cancelled instead.
-- Rescues also require the lease to have expired.
UPDATE hourhand_jobs
SET state = CASE WHEN cancel_requested THEN 'cancelled' ELSE :new_state END,
    run_at = CASE WHEN NOT cancel_requested AND :new_state = 'retrying'
                  THEN NOW() + :retry_in ELSE run_at END,
    attempt = CASE WHEN :new_state = 'queued' THEN attempt - 1 ELSE attempt END,
    handbacks = CASE WHEN :new_state = 'queued' THEN handbacks + 1 ELSE handbacks END,
    error = CASE WHEN :new_state = 'queued' AND NOT cancel_requested THEN error
                 ELSE coalesce(:error, error) END,
    finished_at = CASE WHEN cancel_requested OR :new_state IN ('failed', 'cancelled')
                       THEN NOW() ELSE NULL END,
    lease_expires_at = NULL, cancel_requested = 0
WHERE id = :id AND attempt = :attempt AND worker_id = :worker_id AND state = 'running'
  AND (:require_expired = 0 OR lease_expires_at < NOW())
RETURNING id, started_at, NOW() AS now, schedule_id, state, queue, name

-- name: insert_attempt
-- Record one attempt.
INSERT INTO hourhand_attempts (job_id, attempt, worker_id, started_at, finished_at, outcome,
                               duration, error, traceback)
VALUES (:job_id, :attempt, :worker_id, :started_at, :finished_at, :outcome, :duration,
        :error, :traceback)

-- name: expired
-- Running jobs whose lease has expired.
SELECT * FROM hourhand_jobs WHERE state = 'running' AND lease_expires_at < NOW()
ORDER BY lease_expires_at LIMIT :limit

-- name: release_unheld
-- Give back the running jobs of this worker that it does not hold (their claim's reply was
-- lost): queued again with the attempt not counted, or cancelled if that was asked.
UPDATE hourhand_jobs
SET state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END,
    attempt = attempt - 1, lease_expires_at = NULL, cancel_requested = 0,
    finished_at = CASE WHEN cancel_requested THEN NOW() ELSE NULL END
WHERE state = 'running' AND worker_id = :worker_id
  AND id NOT IN (SELECT value FROM json_each(:held))
RETURNING id, state, schedule_id, queue, name, finished_at

-- name: recorded
-- Whether this worker has recorded an end for this attempt.
SELECT 1 AS found FROM hourhand_attempts
WHERE job_id = :job_id AND attempt = :attempt AND worker_id = :worker_id AND outcome = :outcome
LIMIT 1

-- name: set_progress
-- Record progress on a job this worker still holds.
UPDATE hourhand_jobs SET progress = :percent, progress_message = :message
WHERE id = :id AND attempt = :attempt AND worker_id = :worker_id AND state = 'running'

-- name: get_job
SELECT * FROM hourhand_jobs WHERE id = :id

-- name: get_jobs
SELECT * FROM hourhand_jobs WHERE id IN (SELECT value FROM json_each(:ids))

-- name: cancel_requested
-- Running jobs whose cancellation was requested (workers look when the file changed).
SELECT id FROM hourhand_jobs WHERE state = 'running' AND cancel_requested = 1

-- name: list_attempts
SELECT * FROM hourhand_attempts WHERE job_id = :job_id ORDER BY id

-- name: cancel_waiting
-- Cancel a job that has not started.
UPDATE hourhand_jobs SET state = 'cancelled', finished_at = NOW()
WHERE id = :id AND state IN ('scheduled', 'queued', 'retrying')
RETURNING *

-- name: request_cancel
-- Ask the worker running a job to stop it.
UPDATE hourhand_jobs SET cancel_requested = 1 WHERE id = :id AND state = 'running'
RETURNING *

-- name: retry_job
-- Queue a failed, cancelled or waiting job to run now (or, with a delay, schedule it), with
-- at least one attempt left.
UPDATE hourhand_jobs
SET state = CASE WHEN :delay > 0 THEN 'scheduled' ELSE 'queued' END,
    run_at = NOW() + :delay, max_attempts = max(max_attempts, attempt + 1),
    finished_at = NULL, cancel_requested = 0
WHERE id = :id AND state IN ('failed', 'cancelled', 'retrying', 'scheduled')
  AND (:expect IS NULL OR state = :expect)
RETURNING id

-- name: delete_job
-- Delete a finished job (its attempts are deleted after it, in one transaction).
DELETE FROM hourhand_jobs WHERE id = :id AND state IN ('completed', 'failed', 'cancelled')
RETURNING id

-- name: delete_attempts
DELETE FROM hourhand_attempts WHERE job_id = :id

-- name: count_by_state
-- Jobs per state without reading the history: the waiting, running and dead-letter jobs
-- through their partial indexes; completed and cancelled jobs are the rollup's totals.
SELECT 'queued' AS state, count(*) AS n FROM hourhand_jobs WHERE state = 'queued'
UNION ALL
SELECT 'running', count(*) FROM hourhand_jobs WHERE state = 'running'
UNION ALL
SELECT state, count(*) FROM hourhand_jobs WHERE state IN ('scheduled', 'retrying')
GROUP BY state
UNION ALL
SELECT 'failed', count(*) FROM hourhand_jobs WHERE state = 'failed'
UNION ALL
SELECT 'completed', coalesce(sum(completed), 0) FROM hourhand_job_stats
WHERE minute = 0 OR minute >= (SELECT upto FROM hourhand_stats_mark WHERE id = 1)
UNION ALL
SELECT 'cancelled', coalesce(sum(cancelled), 0) FROM hourhand_job_stats
WHERE minute = 0 OR minute >= (SELECT upto FROM hourhand_stats_mark WHERE id = 1)

-- Job statistics (hourhand_job_stats): a row per (minute, queue, job type, shard), added to
-- in the write transaction of each state change that ends an attempt or a job (one writer
-- at a time: shard 0). minute: Unix seconds of the minute's start; compacted history is
-- one row per (queue, job type) at minute 0.

-- name: count_stats
-- Add to the current minute's row of a (queue, job type).
INSERT INTO hourhand_job_stats (minute, queue, name, shard, completed, failed, dead, cancelled,
    duration_sum, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11)
VALUES (CAST(NOW() / 60 AS INTEGER) * 60, :queue, :name, 0, :completed, :failed, :dead,
    :cancelled, :duration_sum, :b0, :b1, :b2, :b3, :b4, :b5, :b6, :b7, :b8, :b9, :b10, :b11)
ON CONFLICT (minute, queue, name, shard) DO UPDATE
SET completed = completed + excluded.completed, failed = failed + excluded.failed,
    dead = dead + excluded.dead, cancelled = cancelled + excluded.cancelled,
    duration_sum = duration_sum + excluded.duration_sum,
    b0 = b0 + excluded.b0, b1 = b1 + excluded.b1, b2 = b2 + excluded.b2,
    b3 = b3 + excluded.b3, b4 = b4 + excluded.b4, b5 = b5 + excluded.b5,
    b6 = b6 + excluded.b6, b7 = b7 + excluded.b7, b8 = b8 + excluded.b8,
    b9 = b9 + excluded.b9, b10 = b10 + excluded.b10, b11 = b11 + excluded.b11

-- name: stats_totals
-- Everything counted, per (queue, job type): the totals at minute 0 (every minute before
-- the mark) and the minutes from the mark on (see the PostgreSQL query).
SELECT queue, name, sum(completed) AS completed, sum(failed) AS failed, sum(dead) AS dead,
       sum(cancelled) AS cancelled, sum(duration_sum) AS duration_sum,
       sum(b0) AS b0, sum(b1) AS b1, sum(b2) AS b2, sum(b3) AS b3, sum(b4) AS b4,
       sum(b5) AS b5, sum(b6) AS b6, sum(b7) AS b7, sum(b8) AS b8, sum(b9) AS b9,
       sum(b10) AS b10, sum(b11) AS b11
FROM hourhand_job_stats
WHERE minute = 0 OR minute >= (SELECT upto FROM hourhand_stats_mark WHERE id = 1)
GROUP BY queue, name ORDER BY queue, name

-- name: stats_series
-- Per minute from :since (to :until), summed over the queues and job types asked for;
-- compacted history (minute 0) is not a minute.
SELECT minute, sum(completed) AS completed, sum(failed) AS failed, sum(dead) AS dead,
       sum(cancelled) AS cancelled, sum(duration_sum) AS duration_sum,
       sum(b0 + b1 + b2 + b3 + b4 + b5 + b6 + b7 + b8 + b9 + b10 + b11) AS durations
FROM hourhand_job_stats
WHERE minute >= :since AND minute > 0 AND (:until IS NULL OR minute < :until)
  AND (:queue IS NULL OR queue = :queue) AND (:name IS NULL OR name = :name)
GROUP BY minute ORDER BY minute

-- name: fold_stats
-- Add the minutes from the mark up to :upto to the totals at minute 0 (then drop_stats
-- deletes the counted rows older than :before, and mark_stats moves the mark). :upto is
-- never past this minute's start (compact_stats reads the clock once for the three).
INSERT INTO hourhand_job_stats (minute, queue, name, shard, completed, failed, dead, cancelled,
    duration_sum, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11)
SELECT 0, queue, name, 0, sum(completed), sum(failed), sum(dead), sum(cancelled),
       sum(duration_sum), sum(b0), sum(b1), sum(b2), sum(b3), sum(b4), sum(b5), sum(b6),
       sum(b7), sum(b8), sum(b9), sum(b10), sum(b11)
FROM hourhand_job_stats
WHERE minute > 0 AND minute >= (SELECT upto FROM hourhand_stats_mark WHERE id = 1)
  AND minute < :upto
GROUP BY queue, name
ON CONFLICT (minute, queue, name, shard) DO UPDATE
SET completed = completed + excluded.completed, failed = failed + excluded.failed,
    dead = dead + excluded.dead, cancelled = cancelled + excluded.cancelled,
    duration_sum = duration_sum + excluded.duration_sum,
    b0 = b0 + excluded.b0, b1 = b1 + excluded.b1, b2 = b2 + excluded.b2,
    b3 = b3 + excluded.b3, b4 = b4 + excluded.b4, b5 = b5 + excluded.b5,
    b6 = b6 + excluded.b6, b7 = b7 + excluded.b7, b8 = b8 + excluded.b8,
    b9 = b9 + excluded.b9, b10 = b10 + excluded.b10, b11 = b11 + excluded.b11

-- name: drop_stats
DELETE FROM hourhand_job_stats
WHERE minute > 0
  AND minute < min(:before, max(:upto,
                                (SELECT upto FROM hourhand_stats_mark WHERE id = 1)))

-- name: mark_stats
UPDATE hourhand_stats_mark SET upto = max(upto, :upto) WHERE id = 1

-- name: count_prunable
-- Jobs per state that prune_jobs would delete (a dry run).
SELECT state, count(*) AS n FROM hourhand_jobs
WHERE state IN (SELECT value FROM json_each(:states)) AND finished_at < :before
  AND (:queue IS NULL OR queue = :queue)
  AND queue NOT IN (SELECT value FROM json_each(:except_queues))
GROUP BY state

-- name: prunable
-- Up to :limit finished jobs (of the given states and queues) that finished before
-- :before, the lowest ids in (:after_id, :upto_id].
SELECT id FROM hourhand_jobs
WHERE id > :after_id AND id <= :upto_id
  AND state IN (SELECT value FROM json_each(:states)) AND finished_at < :before
  AND (:queue IS NULL OR queue = :queue)
  AND queue NOT IN (SELECT value FROM json_each(:except_queues))
ORDER BY id LIMIT :limit

-- name: prune_attempts
DELETE FROM hourhand_attempts WHERE job_id IN (SELECT value FROM json_each(:ids))

-- name: prune_jobs
DELETE FROM hourhand_jobs WHERE id IN (SELECT value FROM json_each(:ids))

-- name: first_job_from
SELECT id, created_at FROM hourhand_jobs WHERE id >= :id ORDER BY id LIMIT 1

-- name: last_job_id
SELECT max(id) AS id FROM hourhand_jobs

-- name: insert_schedule
INSERT INTO hourhand_schedules (name, org_id, source, job, args, cron, tz, enabled, queue,
    priority, max_attempts, timeout, misfire, misfire_cap, catchup_window, overlap, jitter,
    created_by, next_fire_at, created_at, updated_at, defined_enabled, disabled_at)
VALUES (:name, :org_id, :source, :job, :args, :cron, :tz, :enabled, :queue, :priority,
    :max_attempts, :timeout, :misfire, :misfire_cap, :catchup_window, :overlap, :jitter,
    :created_by, :next_fire_at, NOW(), NOW(), :enabled,
    CASE WHEN :enabled THEN NULL ELSE NOW() END)
RETURNING *

-- name: get_schedule
SELECT * FROM hourhand_schedules WHERE id = :id

-- name: find_schedule
SELECT * FROM hourhand_schedules WHERE name = :name AND coalesce(org_id, '') = coalesce(:org_id, '')

-- name: list_schedules
SELECT * FROM hourhand_schedules
WHERE (:org_id IS NULL OR org_id = :org_id) AND (:source IS NULL OR source = :source)
ORDER BY coalesce(org_id, ''), name

-- name: delete_schedule
DELETE FROM hourhand_schedules WHERE id = :id RETURNING id

-- name: due_schedules
-- Enabled schedules whose next fire time has come.
SELECT * FROM hourhand_schedules WHERE enabled = 1 AND next_fire_at <= :now
ORDER BY next_fire_at LIMIT :limit

-- name: next_schedule_due
SELECT min(next_fire_at) AS next_due FROM hourhand_schedules WHERE enabled = 1

-- name: lock_fire
-- The schedule, if its next fire time is still the one this scheduler read (the write
-- transaction holds the file's lock): a scheduler that lost the race, or a schedule changed
-- meanwhile, fires nothing.
SELECT id FROM hourhand_schedules WHERE id = :id AND enabled = 1 AND next_fire_at = :expected

-- name: advance_schedule
-- Move a schedule's next fire time on, unless another scheduler already did. The fire
-- times it was disabled for are in the ledger now.
UPDATE hourhand_schedules
SET next_fire_at = :next_fire_at,
    last_fire_at = coalesce(:fired_at, last_fire_at),
    last_job_id = coalesce(:job_id, last_job_id),
    disabled_at = NULL,
    updated_at = NOW()
WHERE id = :id AND enabled = 1 AND next_fire_at = :expected
RETURNING id

-- name: schedule_activity
-- How many of a schedule's jobs wait and run (for its overlap policy).
SELECT coalesce(sum(CASE WHEN state IN ('scheduled', 'queued', 'retrying') THEN 1 ELSE 0 END), 0)
         AS waiting,
       coalesce(sum(CASE WHEN state = 'running' THEN 1 ELSE 0 END), 0) AS running
FROM hourhand_jobs
WHERE schedule_id = :schedule_id AND state IN ('scheduled', 'queued', 'retrying', 'running')

-- name: schedule_jobs
SELECT * FROM hourhand_jobs WHERE schedule_id = :schedule_id ORDER BY id DESC LIMIT :limit

-- name: schedule_ran
-- Record the latest run's outcome on its schedule.
UPDATE hourhand_schedules SET last_status = :status, last_duration = :duration
WHERE id = :schedule_id

-- name: release_held
-- A schedule's run finished: the run held behind it (overlap 'queue') may start.
UPDATE hourhand_jobs SET run_at = NOW()
WHERE schedule_id = :schedule_id AND state = 'scheduled' AND run_at >= :hold
RETURNING id

-- The ledger of fire times (hourhand_schedule_fires; store/fires.py): one row per fire
-- time of a schedule and per run made by hand, written with the fire (fire_schedule) or the
-- trigger; the transactions that end a schedule's run copy its outcome onto its row (found
-- through the partial index on job_id) and set the due time of a held run they release.

-- name: insert_fire
-- One of a fire's ledger rows; a fire time that has one already keeps it.
INSERT INTO hourhand_schedule_fires (schedule_id, fire_time, status, recorded_at, due_at,
                                     job_id, unlisted)
VALUES (:schedule_id, :fire_time, :status, NOW(), :due_at, :job_id, :unlisted)
ON CONFLICT (schedule_id, fire_time) DO NOTHING

-- name: insert_trigger_fire
-- The ledger row of a run made by hand: its time is the job's creation, to the microsecond
-- (as a time read back from it is, so that a page of the ledger can start below it), or a
-- microsecond after the schedule's latest entry when that is as late (the clock reads
-- milliseconds: runs made by hand in one millisecond each keep an entry).
INSERT INTO hourhand_schedule_fires (schedule_id, fire_time, status, recorded_at, due_at,
                                     job_id)
SELECT j.schedule_id,
       max(round(j.created_at, 6),
           coalesce((SELECT round(max(f.fire_time) + 0.000001, 6)
                     FROM hourhand_schedule_fires f
                     WHERE f.schedule_id = j.schedule_id
                       AND f.fire_time >= round(j.created_at, 6)), 0)),
       'triggered', j.created_at, j.run_at, j.id
FROM hourhand_jobs j WHERE j.id = :job_id AND j.schedule_id IS NOT NULL
ON CONFLICT (schedule_id, fire_time) DO NOTHING

-- name: fire_ended
-- A schedule's run ended for good: its ledger row says how.
UPDATE hourhand_schedule_fires SET outcome = :outcome, finished_at = :finished_at
WHERE job_id = :job_id AND status IN ('enqueued', 'held', 'triggered')

-- name: fire_released
-- A held run was released: it is due now.
UPDATE hourhand_schedule_fires SET due_at = NOW() WHERE job_id = :job_id AND status = 'held'

-- name: schedule_fires
-- A schedule's ledger, newest first, before a fire time (keyset: the primary key read
-- backwards from there).
SELECT * FROM hourhand_schedule_fires
WHERE schedule_id = :schedule_id AND fire_time < coalesce(:before, 1e300)
ORDER BY fire_time DESC
LIMIT :limit

-- name: latest_fires
-- The newest row per schedule (of the ids given, or all), runs made by hand left out: one
-- backward probe of the primary key per schedule.
SELECT f.* FROM hourhand_schedules s
JOIN hourhand_schedule_fires f
  ON f.schedule_id = s.id
 AND f.fire_time = (SELECT g.fire_time FROM hourhand_schedule_fires g
                    WHERE g.schedule_id = s.id AND g.status <> 'triggered'
                    ORDER BY g.fire_time DESC LIMIT 1)
WHERE :ids IS NULL OR s.id IN (SELECT value FROM json_each(:ids))

-- name: last_successes
-- When each schedule's newest successful run ended (of the ids given, or all): one
-- backward probe of the success index per schedule.
SELECT s.id AS schedule_id,
       (SELECT f.finished_at FROM hourhand_schedule_fires f
        WHERE f.schedule_id = s.id AND f.outcome = 'completed'
        ORDER BY f.finished_at DESC LIMIT 1) AS at
FROM hourhand_schedules s
WHERE :ids IS NULL OR s.id IN (SELECT value FROM json_each(:ids))

-- name: set_paused
-- Pause or resume a queue (workers see the change through the file's data_version).
INSERT INTO hourhand_queues (name, paused, updated_at) VALUES (:name, :paused, NOW())
ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at

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
-- their counts per state; one arm per partial index (see the PostgreSQL query).
SELECT name, max(paused) AS paused, max(changed_at) AS changed_at, sum(ready) AS ready,
       sum(running) AS running, sum(scheduled) AS scheduled, sum(retrying) AS retrying,
       sum(failed) AS failed, min(oldest_ready_at) AS oldest_ready_at
FROM (
    SELECT queue AS name, 0 AS paused, NULL AS changed_at, count(*) AS ready, 0 AS running,
           0 AS scheduled, 0 AS retrying, 0 AS failed, min(run_at) AS oldest_ready_at
    FROM hourhand_jobs WHERE state = 'queued' AND (:name IS NULL OR queue = :name)
    GROUP BY queue
    UNION ALL
    SELECT queue, 0, NULL, 0, count(*), 0, 0, 0, NULL
    FROM hourhand_jobs WHERE state = 'running' AND (:name IS NULL OR queue = :name)
    GROUP BY queue
    UNION ALL
    SELECT queue, 0, NULL, 0, 0, sum(state = 'scheduled'), sum(state = 'retrying'), 0, NULL
    FROM hourhand_jobs
    WHERE state IN ('scheduled', 'retrying') AND (:name IS NULL OR queue = :name)
    GROUP BY queue
    UNION ALL
    SELECT queue, 0, NULL, 0, 0, 0, 0, count(*), NULL
    FROM hourhand_jobs WHERE state = 'failed' AND (:name IS NULL OR queue = :name)
    GROUP BY queue
    UNION ALL
    SELECT name, paused, updated_at, 0, 0, 0, 0, 0, NULL FROM hourhand_queues
    WHERE :name IS NULL OR name = :name
)
GROUP BY name ORDER BY name

-- name: ready_by_type
-- Ready jobs per (queue, job type): the queue length metric. Reads the ready jobs only.
SELECT queue, name, count(*) AS n FROM hourhand_jobs WHERE state = 'queued'
GROUP BY queue, name ORDER BY queue, name

-- name: prune_fires
-- A batch of a schedule's oldest ledger entries before a time (its primary key's range),
-- never its newest success (its last-success metric and the dead man's switch read it).
DELETE FROM hourhand_schedule_fires
WHERE schedule_id = :schedule_id
  AND fire_time IN (
      SELECT fire_time FROM hourhand_schedule_fires
      WHERE schedule_id = :schedule_id AND fire_time < :before
        AND fire_time IS NOT (
            SELECT fire_time FROM hourhand_schedule_fires
            WHERE schedule_id = :schedule_id AND outcome = 'completed'
            ORDER BY finished_at DESC LIMIT 1)
      ORDER BY fire_time LIMIT :limit)
