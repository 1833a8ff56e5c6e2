-- Hand-backs counted apart from attempts.
ALTER TABLE hourhand_jobs ADD COLUMN handbacks INTEGER NOT NULL DEFAULT 0;
