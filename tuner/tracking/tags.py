"""The names of the MLflow tags tuner writes: on a sweep's parent run, on each trial run, and on
both. Every reader and writer names a tag through these, and MLflow's search filters quote
them as `tags.\\`<name>\\``."""

from __future__ import annotations

# On both
ROLE_TAG = "tuner.role"  # "sweep" or "trial": how the runs of an experiment are told apart
CONTEXT_TAG = "tuner.context"  # the data its trials are judged on (tuner.trial.data_context)
BATCH_ID_TAG = "tuner.batch_id"  # one sweep's batch: its trial runs share it
CORPUS_SHA256_TAG = "tuner.corpus_sha256"  # the corpus's digest (ids and texts)

# On a sweep's parent run
GRID_TAG = "tuner.grid"  # the grid file's path, as it was run
MODELS_TAG = "tuner.models"  # its models, comma-separated
HOST_TAG = "tuner.host"  # the machine and process that ran it, so a later sweep can tell
PID_TAG = "tuner.pid"  # whether it is still alive (a stale RUNNING run) ...
STARTED_TAG = "tuner.started"  # ... and that the pid is the same process (boot id, start time)
HEARTBEAT_TAG = "tuner.heartbeat"  # unix seconds it last said it lives (tracking.liveness)
BEATS_TAG = "tuner.heartbeat_s"  # how often it says so: set where the store is a server's
CLAIMED_TAG = "tuner.claimed"  # it claims its experiment, before looking for another sweep
REFUSED_TAG = "tuner.refused"  # another sweep ran: it ran nothing (where it cannot be deleted)
CODE_TAG = "tuner.code"  # JSON, the code its results depend on (code_identity)
RANKING_TAG = "tuner.ranking_metric"  # what its leaderboard ranked by
SWEPT_TAG = "tuner.swept"  # JSON, model -> the parameters its grid varied
TRUTH_TAG = "tuner.truth"  # its ground truth partition's digest, or "none"
SEARCH_TAG = "tuner.search"  # its search strategy (grid, random or tpe)
SEARCH_SEED_TAG = "tuner.search_seed"  # and the seed of its sampler
ASKED_TAG = "tuner.asked"  # how many configurations it asked for (sweep_configs.json)
WARNINGS_TAG = "tuner.warnings"  # how many warnings its warnings.json holds
EMBEDDING_KEYS_TAG = "tuner.embedding_keys"  # the digests of the embeddings it used
CACHE_TAG_PREFIX = "tuner.cache."  # + a cache's name: what precompute found there
SOURCE_TAG = "tuner.source"  # SCORED on a `tuner score --log` run, which ran no trial
# What it did, set as it ends
SKIPPED_TAG = "tuner.skipped"
SHARED_STEPS_TAG = "tuner.shared_steps"
RESCORED_TAG = "tuner.rescored"
PRUNED_TAG = "tuner.pruned"
PRUNER_HISTORY_TAG = "tuner.pruner_history"  # finished trials' curves the pruner replayed
TRIALS_TAG = "tuner.trials"
BEST_RUN_ID_TAG = "tuner.best_run_id"  # the recommended configuration's best seed

# On a trial run
MODEL_TAG = "tuner.model"
TRIAL_KEY_TAG = "tuner.trial_key"  # everything that can change its result (tuner.trial)
CONFIG_KEY_TAG = "tuner.config_key"  # the trial key without the seed: its seeds share it
FIT_KEY_TAG = "tuner.fit_key"  # what its fit depends on: a fit another trial can re-score
EMBEDDING_KEY_TAG = "tuner.embedding_key"  # the digest of its embeddings, or "none"
REVISION_TAG = "tuner.revision"  # its trainer's revision, when it has one
COVARIATES_TAG = "tuner.covariates"  # the covariates its fit read (STM)
STATUS_TAG = "tuner.status"  # RUNNING, COMPLETE, PRUNED, FAILED or RESUBMITTED
WORKER_TAG = "tuner.worker"  # host:pid of the worker that ran it
THREADS_TAG = "tuner.threads"  # native threads its fit ran on
RESCORED_FROM_TAG = "tuner.rescored_from"  # the run whose stored fit it scored again
PRUNED_BY_TAG = "tuner.pruned_by"  # what judged a pruned trial (pruning_identity)
ERROR_TYPE_TAG = "tuner.error_type"  # of a FAILED trial: the error that stopped it ...
ERROR_TAG = "tuner.error"  # ... and its message
STALE_TAG = "tuner.stale"  # a run a sweep that died left RUNNING, marked FAILED by the next
