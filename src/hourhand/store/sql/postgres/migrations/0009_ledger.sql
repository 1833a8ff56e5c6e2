-- 0009: the ledger of fire times. One row per fire time of every schedule (and per run made
-- by hand): the job it made, or why it made none, and the run's outcome, copied when the
-- run ends, so the history outlives the jobs' pruning. Statuses: hourhand/store/fires.py.

-- Since when a schedule is disabled: the scheduler's first fire after it is enabled again
-- records the fire times in between as 'disabled' and clears it.
ALTER TABLE hourhand_schedules ADD COLUMN disabled_at timestamptz;
UPDATE hourhand_schedules SET disabled_at = updated_at WHERE NOT enabled;

-- Written by the scheduler in the transaction that inserts the runs; a conflicting insert
-- does nothing, so each fire time has one row however many schedulers race. The outcome is
-- copied by the statements that end a schedule's run, found through the job index.
CREATE TABLE hourhand_schedule_fires (
    schedule_id bigint NOT NULL REFERENCES hourhand_schedules (id) ON DELETE CASCADE,
    fire_time timestamptz NOT NULL,  -- for 'triggered': when it was triggered
    status text NOT NULL,  -- enqueued | held | triggered | merged | scheduler_down | ...
    recorded_at timestamptz NOT NULL DEFAULT now(),  -- for a run: when it was enqueued
    due_at timestamptz,  -- when the run was due (fire time + jitter; held: when released)
    job_id bigint,  -- the run ('merged': the run it was folded into); no foreign key
    outcome text,  -- completed | failed | cancelled, as the run last ended
    finished_at timestamptz,
    unlisted integer NOT NULL DEFAULT 0,  -- earlier fire times like this one not listed
    CONSTRAINT hourhand_schedule_fires_pkey PRIMARY KEY (schedule_id, fire_time)
);
CREATE INDEX hourhand_schedule_fires_job ON hourhand_schedule_fires (job_id)
    WHERE job_id IS NOT NULL;
-- Each schedule's last success, read by a backward probe per schedule.
CREATE INDEX hourhand_schedule_fires_success ON hourhand_schedule_fires (schedule_id, finished_at)
    WHERE outcome = 'completed';

-- The runs the jobs table still holds become the ledger's first rows.
INSERT INTO hourhand_schedule_fires (schedule_id, fire_time, status, recorded_at, due_at,
                                     job_id, outcome, finished_at)
SELECT j.schedule_id, coalesce(j.fire_time, j.created_at),
       CASE WHEN j.fire_time IS NULL THEN 'triggered'
            WHEN j.state = 'scheduled' AND j.run_at >= '9999-01-01' THEN 'held'
            ELSE 'enqueued' END,
       j.created_at,
       CASE WHEN j.state = 'scheduled' AND j.run_at >= '9999-01-01' THEN NULL
            ELSE coalesce(j.fire_time, j.created_at) END,
       j.id,
       CASE WHEN j.state IN ('completed', 'failed', 'cancelled') THEN j.state END,
       CASE WHEN j.state IN ('completed', 'failed', 'cancelled') THEN j.finished_at END
FROM hourhand_jobs j JOIN hourhand_schedules s ON s.id = j.schedule_id
WHERE j.schedule_id IS NOT NULL
ON CONFLICT (schedule_id, fire_time) DO NOTHING;
