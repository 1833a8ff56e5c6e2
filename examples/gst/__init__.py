"""Seed 001, the GST litigation system's background jobs (pg_cron + Supabase edge
functions), rebuilt on hourhand: see README.md."""
