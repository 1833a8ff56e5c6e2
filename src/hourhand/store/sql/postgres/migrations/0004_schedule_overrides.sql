-- An operator's enable/disable of a code or config schedule is kept apart from what the
-- code or config file says, so that a scheduler's sync never undoes it.
ALTER TABLE hourhand_schedules ADD COLUMN defined_enabled boolean NOT NULL DEFAULT true;
ALTER TABLE hourhand_schedules ADD COLUMN enabled_override boolean;
UPDATE hourhand_schedules SET defined_enabled = enabled;
