"""Background jobs, run by Celery when a broker is configured and in-process otherwise.

- `jobs.tasks`: the job definitions (name, schedule, a thin body calling one service).
- `jobs.runner`: `dispatch(name, settings=…)` sends a job to Celery (CELERY_BROKER_URL set) or
  schedules it on the running event loop (embedded default).
- `jobs.recorded`: `run_recorded` wraps every execution, by either runner, in a JobRun row.
- `jobs.scheduler`: the beat schedule run inside the server when jobs are in-process:
  `start_inprocess_scheduler(app)` / `stop_inprocess_scheduler(app)` are Sanic listeners.
- `jobs.celery_app`: the Celery app (`celery -A jobs.celery_app worker|beat`).

Importing this package loads nothing else, so the server can import the dispatcher without
reading the environment or touching a broker.
"""
