-- An operator's edits of a config schedule (cron, zone, arguments, policies), kept apart
-- from what the config file says, as enable/disable is (0004): a scheduler's sync applies
-- them over the file's values and never undoes them; `schedules reset` drops them.
ALTER TABLE hourhand_schedules ADD COLUMN overrides jsonb NOT NULL DEFAULT '{}';
