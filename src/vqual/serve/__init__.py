"""`vqual serve`: vqual as an HTTP service (FastAPI + uvicorn) and a web page, safe by default.

- `vqual.serve.settings`: `Settings`, every option of the service (limits, token, allowed folder, CORS), passed to
  each uvicorn worker process through one environment variable.
- `vqual.serve.uploads`: multipart uploads streamed to temporary files under size limits (never whole in memory).
- `vqual.serve.jobs`: `JobStore`, the SQLite table of asynchronous jobs under ``$VQUAL_HOME/serve``.
- `vqual.serve.metrics`: `Metrics` for ``/metrics``, one view of the service across ``--workers N`` processes
  (prometheus-client's multiprocess mode in a private folder the parent process creates).
- `vqual.serve.app`: `create_app(settings)`, the API (``/v1/...``), health, metrics and the page at ``/``.
- ``static/``: the page (plain HTML, CSS and JS, no CDN).

Needs the ``vqual[serve]`` extra (fastapi, uvicorn, python-multipart, prometheus-client).
"""
