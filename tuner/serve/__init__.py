"""The HTTP service: jobs (with containment of every path it accepts) and the server."""

# The most tokens one embedding batch may hold (batch_size x max_length) in a served sweep: the
# service embeds in its own process, which --max-memory does not cover, and a request's
# batch_size 4096 at max_length 512 took it to 5.97 GB on 600 documents (attacker audit of
# 2026-12-02; about 10 MB a document at 512 tokens, MiniLM's attention). 32 x 512 is the most
# a default-sized batch reads. Here, where the CLI's default reads it cheaply.
MAX_BATCH_TOKENS = 16384
