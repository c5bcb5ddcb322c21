"""The HTTP service: jobs (with containment of every path it accepts) and the server."""
