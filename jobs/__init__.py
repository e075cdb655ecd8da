"""Background jobs, run by Celery when a broker is configured and in-process otherwise.

Importing this package loads nothing else, so the server can import the dispatcher cheaply.
"""
