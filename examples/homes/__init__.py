"""MujDomecek's background jobs (seed 004, Hangfire/Quartz) rebuilt on hourhand."""
