"""gunicorn settings for the benchmark, in place of the deployment's ../gunicorn.conf.py.

The worker count comes from the command line. No access log and no worker
recycling: a recycled worker would take its CPU time with it, and log writes
are not what is being measured. Everything else is gunicorn's default.
"""

accesslog = None
max_requests = 0
control_socket_disable = True
