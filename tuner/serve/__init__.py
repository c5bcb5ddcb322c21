"""The HTTP service: jobs (with containment of every path it accepts) and the server."""

# The most tokens one embedding batch may hold (batch_size x max_length) in a served sweep: the
# service embeds in its own process, which --max-memory does not cover, and a request's batch_size
# 4096 at max_length 512 takes it to 5.97 GB on 600 documents (about 10 MB a document at 512 tokens,
# MiniLM's attention). 32 x 512 is the most a default-sized batch reads. Here, where the CLI's
# default reads it cheaply.
MAX_BATCH_TOKENS = 16384
# The free space, on the cache folder's disk, below which no served sweep starts: each new
# preprocessing or NPMI window caches a new bag of words and co-occurrence counts (52 MB a
# request for a 3.9 MB corpus), kept for later sweeps; a client sending such requests every 6 s
# would fill 30 GB an hour.
MIN_FREE_GB = 2.0
# The longest a served trial (or shared step) may run, whatever its grid's timeout_s: a grid of
# 9,600 LDA trials at 10,000 iterations and timeout_s null held the service, and its
# experiment's lock (the operator's cron sweep exited 3), for as long as they took (attacker
# audit of 2026-12-05). Six hours: Word2Vec for ETM on 20 Newsgroups took 11 minutes on one core.
MAX_TRIAL_SECONDS = 6 * 3600.0
