-- PostgreSQL's 0006 makes autovacuum follow the churn of the jobs table, not its size, and
-- keys attempts by (job_id, id). SQLite removes index entries as rows change (no dead
-- entries to vacuum), and its attempts' id is the rowid (no index of its own): nothing to do.
SELECT 1;
