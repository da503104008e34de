"""Hostile and broken files for the security tests, generated (nothing binary is stored in the repository)."""

from __future__ import annotations

import random
import zlib
from pathlib import Path

from conftest import make_pdf

from copilot.stores.memory import MemoryStore  # noqa: F401  (the tests' store)

BOMB_MB = 120  # decompressed: beyond pypdf's default limit (75 MB) and ours (100 MB)


def pdf_with_stream(path: Path, stream: bytes, compressed: bool = True) -> Path:
    """A one-page PDF whose page content is `stream` (FlateDecode when compressed)."""
    body = zlib.compress(stream, 9) if compressed else stream
    filters = b" /Filter /FlateDecode" if compressed else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d%s >>\nstream\n" % (len(body), filters) + body + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


_BOMB_CACHE: dict[int, bytes] = {}


def bomb_pdf(path: Path, mb: int = BOMB_MB) -> Path:
    """A small PDF (about 0.1% of `mb`) whose page content decompresses to `mb` megabytes."""
    if mb not in _BOMB_CACHE:
        tmp = path.with_name(f".bomb-{mb}.tmp")
        pdf_with_stream(tmp, b"BT /F1 11 Tf 50 780 Td (boom) Tj ET" + b" " * (mb * 1_000_000))
        _BOMB_CACHE[mb] = tmp.read_bytes()
        tmp.unlink()
    path.write_bytes(_BOMB_CACHE[mb])
    return path


# ---------------------------------------------------------------- seeds and mutations for the fuzz

GOOD_MD = """---
title: Closing the loop
topic: programs
---

# Closing the loop

## What is closing the loop?

Closing the loop means following up with customers who gave feedback, so that they know what changed.

## Inner and outer loop

The inner loop is the frontline follow-up with one customer. The outer loop fixes the causes behind many
complaints, such as a confusing bill or a slow returns process.
"""
GOOD_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>Customer effort</title></head>
<body><nav>Home | Pricing</nav><main><h1>Customer effort</h1>
<p>Customer effort score measures how easy it was for a customer to get an issue resolved.</p>
<h2>When to ask</h2><p>Ask right after a service interaction such as a support call or a return.</p>
</main><footer>Acme</footer></body></html>
"""
GOOD_TXT = """Service recovery

Service recovery is what a company does after a failure to win the customer back.

Good recovery is fast, owns the mistake and fixes the cause as well as the case.
"""
GOOD_PDF_PAGES = ["Churn rate guide\nChurn rate is the share of customers lost in a period of time.",
                  "Retention rate is the share of customers kept over a period of time."]


def seeds(folder: Path) -> dict[str, bytes]:
    """One good file of each format, as bytes, keyed by suffix."""
    pdf = make_pdf(folder / ".seed.pdf", GOOD_PDF_PAGES, title="Churn guide").read_bytes()
    (folder / ".seed.pdf").unlink()
    return {".md": GOOD_MD.encode(), ".html": GOOD_HTML.encode(), ".txt": GOOD_TXT.encode(), ".pdf": pdf}


def _flip(rng, data):
    out = bytearray(data)
    for _ in range(rng.randint(1, 40)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def _truncate(rng, data):
    return data[: rng.randrange(1, len(data))]


def _insert(rng, data):
    at = rng.randrange(len(data))
    return data[:at] + rng.randbytes(rng.randint(1, 2000)) + data[at:]


def _delete(rng, data):
    a = rng.randrange(len(data))
    return data[:a] + data[a + rng.randint(1, max(1, len(data) // 3)):]


def _duplicate(rng, data):
    a = rng.randrange(len(data))
    piece = data[a: a + rng.randint(1, 400)]
    return data[:a] + piece * rng.randint(2, 200) + data[a:]


def _noise(rng, data):
    return rng.randbytes(rng.randint(1, 20000))


def _nuls(rng, data):
    out = bytearray(data)
    for _ in range(rng.randint(1, 50)):
        out.insert(rng.randrange(len(out)), 0)
    return bytes(out)


def _controls(rng, data):
    out = bytearray(data)
    for _ in range(rng.randint(1, 300)):
        out.insert(rng.randrange(len(out)), rng.choice([1, 2, 7, 8, 11, 12, 27, 127]))
    return bytes(out)


def _wide(rng, data):
    text = data.decode("utf-8", "replace")
    return text.encode(rng.choice(["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-16", "utf-32"]))


def _wrong_bom(rng, data):
    return rng.choice([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00"]) + data


def _deep(rng, data, suffix):
    n = rng.choice([200, 2000, 20000, 100000])
    if suffix == ".html":
        return b"<html><body>" + b"<div><span>" * n + b"deep text" + b"</span></div>" * n + b"</body></html>"
    if suffix == ".md":
        return b"---\nx: " + b"[" * n + b"]" * n + b"\n---\n# Deep\n\nText about loyalty.\n"
    if suffix == ".pdf":
        return data.replace(b"/MediaBox [0 0 612 842]", b"/MediaBox " + b"[" * n + b"0" + b"]" * n, 1)
    return (b"#" * n + b" heading\n") * 3 + b"Some text about churn.\n"


def _yaml_bomb(rng, data, suffix):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, rng.randint(6, 12)):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"summary: *a{len(lines) - 1}")
    return ("---\n" + "\n".join(lines) + "\n---\n# Bomb\n\nA short body about churn.\n").encode()


def _pdf_length(rng, data, suffix):
    return data.replace(b"/Length ", b"/Length 99999999", 1) if rng.random() < 0.5 else data.replace(
        b"startxref\n", b"startxref\n9", 1)


def _other_format(rng, data, suffix):
    return rng.choice([GOOD_HTML.encode(), GOOD_MD.encode(), b"%PDF-1.4\n" + GOOD_TXT.encode(), b"PK\x03\x04" * 50])


GENERIC = [_flip, _truncate, _insert, _delete, _duplicate, _noise, _nuls, _controls, _wide, _wrong_bom]
SPECIAL = [_deep, _yaml_bomb, _pdf_length, _other_format]


def fuzz_cases(folder: Path, n: int, seed: int = 20261201) -> list[Path]:
    """`n` broken variants of the seed files, written into `folder` (reproducible for a given seed)."""
    rng = random.Random(seed)
    base = seeds(folder)
    small_bomb = folder / ".small-bomb.pdf"
    bomb_pdf(small_bomb, 4)  # beyond the fuzz's limit of 2 MB decompressed
    paths = []
    for i in range(n):
        suffix = rng.choice(sorted(base))
        data = base[suffix]
        r = rng.random()
        if r < 0.03 and suffix == ".pdf":
            data = small_bomb.read_bytes()
        elif r < 0.15:
            data = rng.choice(SPECIAL)(rng, data, suffix)
        else:
            for mutate in rng.sample(GENERIC, rng.randint(1, 3)):
                data = mutate(rng, data) if data else data
        path = folder / f"case-{i:04d}{suffix}"
        path.write_bytes(data)
        paths.append(path)
    small_bomb.unlink()
    return paths
