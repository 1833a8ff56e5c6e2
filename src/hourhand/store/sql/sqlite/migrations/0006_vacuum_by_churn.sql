-- PostgreSQL's 0006 makes autovacuum follow the churn of the jobs table, not its size.
-- SQLite removes index entries as rows change (no dead entries to vacuum): nothing to do.
SELECT 1;
