"""The tokenizer encodings Parlant's OpenAI adapter needs, available with no internet access.

Parlant's OpenAI (and Azure) generators build a tiktoken tokenizer when they are created, at
start-up, and tiktoken downloads the encoding's rank file from a public blob store the first
time, which a machine behind an egress firewall cannot reach. tiktoken reads the file from
`TIKTOKEN_CACHE_DIR` first, under the SHA-1 of its URL, and checks its SHA-256, so this module
fills that cache from a package on PyPI: `quicktok-v1` ships the same rank tables in its own
binary layout (u32 count, then per token: u16 length, the bytes, u32 rank). The conversion is
accepted only if the result has the SHA-256 tiktoken itself expects, i.e. it is byte-for-byte
OpenAI's file.

`python -m agent.nlp.tokenizer_files [DIR]` fills the cache (the install step runs it); the agent
checks it at start and says in one line what is missing.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

SOURCE_PACKAGE = "quicktok-v1"


@dataclass(frozen=True)
class Encoding:
    name: str
    url: str  # what tiktoken would download; the cache file is named by its SHA-1
    sha256: str  # what tiktoken checks the file against
    packaged_file: str  # the same table inside SOURCE_PACKAGE

    def cache_file(self, cache_dir: Path) -> Path:
        return cache_dir / hashlib.sha1(self.url.encode()).hexdigest()


_BLOB = "https://openaipublic.blob.core.windows.net/encodings"
# o200k_base: the gpt-4o / gpt-4.1 / gpt-5 generators; cl100k_base: text-embedding-3-*.
ENCODINGS: tuple[Encoding, ...] = (
    Encoding(
        "o200k_base",
        f"{_BLOB}/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "quicktok/data/o200k.vocab",
    ),
    Encoding(
        "cl100k_base",
        f"{_BLOB}/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        "quicktok/data/cl100k.vocab",
    ),
)


class EncodingUnavailable(RuntimeError):
    """An encoding is neither in the cache nor convertible from the installed package."""


def is_cached(encoding: Encoding, cache_dir: Path) -> bool:
    path = encoding.cache_file(cache_dir)
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == encoding.sha256


def missing_encodings(cache_dir: Path) -> list[str]:
    return [e.name for e in ENCODINGS if not is_cached(e, cache_dir)]


def tiktoken_file_from_packed(packed: bytes) -> bytes:
    """quicktok's packed rank table as tiktoken's text format: `base64(token) rank` per line."""
    (count,) = struct.unpack_from("<I", packed, 0)
    offset = 4
    ranked: list[tuple[int, bytes]] = []
    for _ in range(count):
        (length,) = struct.unpack_from("<H", packed, offset)
        offset += 2
        token = packed[offset : offset + length]
        offset += length
        (rank,) = struct.unpack_from("<I", packed, offset)
        offset += 4
        ranked.append((rank, token))
    ranked.sort()
    return b"".join(base64.b64encode(token) + b" %d\n" % rank for rank, token in ranked)


def _packaged_table(encoding: Encoding) -> bytes:
    try:
        located = metadata.distribution(SOURCE_PACKAGE).locate_file(encoding.packaged_file)
    except metadata.PackageNotFoundError as error:
        raise EncodingUnavailable(f"{SOURCE_PACKAGE} is not installed") from error
    path = Path(str(located))
    if not path.is_file():
        raise EncodingUnavailable(f"{SOURCE_PACKAGE} has no {encoding.packaged_file}")
    return path.read_bytes()


def fill_cache(cache_dir: Path) -> list[str]:
    """Write every missing encoding into `cache_dir`; returns the names written."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for encoding in ENCODINGS:
        if is_cached(encoding, cache_dir):
            continue
        content = tiktoken_file_from_packed(_packaged_table(encoding))
        if hashlib.sha256(content).hexdigest() != encoding.sha256:
            raise EncodingUnavailable(
                f"{encoding.name} from {SOURCE_PACKAGE} does not match tiktoken's checksum"
            )
        target = encoding.cache_file(cache_dir)
        partial = target.with_suffix(".partial")
        partial.write_bytes(content)
        partial.replace(target)  # tiktoken never sees half a file
        written.append(encoding.name)
    return written


def ensure_cache(cache_dir: Path) -> str | None:
    """None when every encoding is in `cache_dir` (filling it if it can); else one line saying
    what is missing and how to fix it."""
    if not missing_encodings(cache_dir):
        return None
    try:
        fill_cache(cache_dir)
    except (EncodingUnavailable, OSError) as error:
        return (
            f"the tokenizer encodings {', '.join(missing_encodings(cache_dir))} are not in "
            f"TIKTOKEN_CACHE_DIR={cache_dir} and could not be made offline ({error}); run "
            "`make .venv/.installed-stamp` (it installs them), or copy the .tiktoken files there "
            "named by the SHA-1 of their URL"
        )
    return None


def default_cache_dir() -> Path:
    """Inside the virtualenv, so the install step and the agent agree without a setting."""
    return Path(sys.prefix) / "share" / "tiktoken"


def main(argv: list[str]) -> int:
    cache_dir = Path(argv[0]) if argv else default_cache_dir()
    problem = ensure_cache(cache_dir)
    if problem:
        print(f"tokenizer_files: {problem}", file=sys.stderr)
        return 1
    print(f"tokenizer_files: {', '.join(e.name for e in ENCODINGS)} ready in {cache_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
