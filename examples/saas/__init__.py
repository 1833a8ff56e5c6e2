"""Seed 002 rebuilt on hourhand: a SaaS API's organisation-scoped user jobs (report
generation, bulk CSV imports) with progress and results, a system job (storage:cleanup,
hourly) and users' daily/weekly/monthly schedules, reached through /v1/orgs/{org}/jobs."""
