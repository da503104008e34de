"""Every bad file fails alone, with a reason: limits, parser failures, encodings, and a seeded fuzz of broken
PDF/HTML/text/Markdown bytes loaded in one batch with good files."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from copilot import documents
from copilot.documents import LoadLimits, decode_text, load_document
from copilot.errors import CopilotError, LoadError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_files import GOOD_MD, MemoryStore, bomb_pdf, fuzz_cases, pdf_with_stream, seeds  # noqa: E402

GOOD = "# Loyalty\n\n## What is loyalty?\n\nLoyalty is a customer's wish to keep buying from a company.\n"


@pytest.fixture
def hash_copilot(tmp_path):
    from copilot import Copilot
    from copilot.embeddings import HashEmbedder

    return Copilot(tmp_path / "index", embedder=HashEmbedder(), corpus=False)


def _good(tmp_path, name="loyalty.md"):
    p = tmp_path / name
    p.write_text(GOOD, encoding="utf-8")
    return p


# ---------------------------------------------------------------- a decompression bomb beside a good file

def test_a_decompression_bomb_fails_alone_and_the_good_file_loads(tmp_path, hash_copilot):
    bomb = bomb_pdf(tmp_path / "bomb.pdf")
    assert bomb.stat().st_size < 200_000
    report = hash_copilot.ingest([bomb, _good(tmp_path)])
    status = {Path(f.path).name: f for f in report.files}
    assert status["loyalty.md"].status == "added"
    assert status["bomb.pdf"].status == "failed"
    reason = status["bomb.pdf"].reason
    assert "decompression bomb" in reason and "COPILOT_MAX_DECOMPRESSED_MB" in reason
    assert [s["source"] for s in hash_copilot.sources()] == ["loyalty.md"]


def test_the_cli_reports_the_bomb_as_one_line_and_loads_the_rest(tmp_path, capsys, monkeypatch):
    from copilot.cli import main

    monkeypatch.setenv("COPILOT_EMBEDDER", "hash")  # this is about the report, not the model

    bomb = bomb_pdf(tmp_path / "bomb.pdf")
    code = main(["ingest", str(bomb), str(_good(tmp_path)), "--no-corpus", "--index-dir", str(tmp_path / "i"),
                 "--quiet"])
    out, err = capsys.readouterr()
    assert code == 1
    assert f"failed: {bomb}: its content expands beyond the loading limits" in err
    assert "added: " in out and "1 added, 1 failed" in out
    assert "Traceback" not in out + err


def test_the_decompressed_size_limit_is_a_setting(tmp_path, monkeypatch):
    small = pdf_with_stream(tmp_path / "small.pdf", b"BT /F1 11 Tf 50 780 Td (Churn is customers lost.) Tj ET" +
                            b" " * 3_000_000)
    assert load_document(small).sections[0].text == "Churn is customers lost."
    monkeypatch.setenv("COPILOT_MAX_DECOMPRESSED_MB", "1")
    with pytest.raises(LoadError, match="decompression bomb"):
        load_document(small)


# ---------------------------------------------------------------- any exception in one file is that file's reason

@pytest.mark.parametrize("exc, reason", [
    (MemoryError(), "more memory than this machine has"),
    (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
    (KeyError("/Root"), "could not be read as text (KeyError: '/Root')"),
    (ZeroDivisionError("division by zero"), "could not be read as text (ZeroDivisionError: division by zero)"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "could not be read as text (UnicodeDecodeError"),
])
def test_whatever_a_parser_raises_becomes_the_files_reason(exc, reason, tmp_path, monkeypatch, hash_copilot):
    def broken(path, data):
        if path.name == "broken.txt":
            raise exc
        return real(path, data)

    real = documents._LOADERS["text"]
    monkeypatch.setitem(documents._LOADERS, "text", broken)
    bad = tmp_path / "broken.txt"
    bad.write_text("Some text.", encoding="utf-8")
    fine = tmp_path / "fine.txt"
    fine.write_text("Fine\n\nNet promoter score measures loyalty.\n", encoding="utf-8")
    report = hash_copilot.ingest([bad, fine])
    [failed] = report.failed
    assert failed.path == str(bad) and reason in failed.reason
    assert [f.status for f in report.files if f.path == str(fine)] == ["added"]


def test_a_file_that_takes_too_long_fails_on_its_own(tmp_path, monkeypatch, hash_copilot):
    def stuck(path, data):
        if path.name == "stuck.txt":
            while True:
                pass
        return real(path, data)

    real = documents._LOADERS["text"]
    monkeypatch.setitem(documents._LOADERS, "text", stuck)
    monkeypatch.setenv("COPILOT_LOAD_SECONDS", "0.5")
    stuck_file = tmp_path / "stuck.txt"
    stuck_file.write_text("Anything.", encoding="utf-8")
    fine = tmp_path / "fine.txt"
    fine.write_text("Fine\n\nNet promoter score measures loyalty.\n", encoding="utf-8")
    start = time.perf_counter()
    report = hash_copilot.ingest([stuck_file, fine])
    assert time.perf_counter() - start < 10
    [failed] = report.failed
    assert failed.path == str(stuck_file)
    assert "longer than 0.5 s (COPILOT_LOAD_SECONDS)" in failed.reason
    assert [f.status for f in report.files if f.path == str(fine)] == ["added"]
    time.sleep(0.6)  # nothing is raised in this thread after the file was given up
    assert load_document(fine).title == "Fine"


@pytest.mark.parametrize("setting, value, make, reason", [
    ("COPILOT_MAX_PAGES", "2", "pdf3", "it has 3 pages; the limit is 2 (COPILOT_MAX_PAGES)"),
    ("COPILOT_MAX_TEXT_CHARS", "1000", "long", "more than 1,000 characters of text (COPILOT_MAX_TEXT_CHARS)"),
    ("COPILOT_MAX_FILE_MB", "0.001", "long", "the limit is 0.001 MB (COPILOT_MAX_FILE_MB)"),
])
def test_limits_are_settings_named_in_the_reason(setting, value, make, reason, tmp_path, monkeypatch, pdf_factory):
    if make == "pdf3":
        path = pdf_factory("three.pdf", ["Page one about churn.", "Page two about retention.", "Page three."])
    else:
        path = tmp_path / "long.md"
        path.write_text("# Long\n\n" + "Churn is the share of customers lost. " * 200, encoding="utf-8")
    assert load_document(path).sections  # fine with the defaults
    monkeypatch.setenv(setting, value)
    with pytest.raises(LoadError) as err:
        load_document(path)
    assert reason in err.value.reason


def test_default_limits_are_safe_and_a_bad_setting_is_a_clear_error(monkeypatch):
    limits = LoadLimits.from_env()
    assert limits == LoadLimits() and limits.pages >= 2000 and limits.decompressed_mb <= 100
    monkeypatch.setenv("COPILOT_MAX_PAGES", "lots")
    with pytest.raises(CopilotError, match="COPILOT_MAX_PAGES='lots' is not a whole number"):
        LoadLimits.from_env()


def test_front_matter_that_expands_is_refused(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    bomb = tmp_path / "laughs.md"
    bomb.write_text("---\n" + "\n".join(lines) + "\nsummary: *a9\n---\n# Laughs\n\nA body.\n", encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(LoadError, match="front matter is too large"):
        load_document(bomb)
    assert time.perf_counter() - start < 5
    deep = tmp_path / "deep.md"
    deep.write_text("---\nx: " + "[" * 5000 + "]" * 5000 + "\n---\n# Deep\n\nA body.\n", encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(LoadError, match="front matter"):
        load_document(deep)
    assert time.perf_counter() - start < 1


# ---------------------------------------------------------------- encodings and control characters

TEXT = "Café service guide\n\nThe café’s net promoter score rose to +42 — a record. À la carte service wins.\n"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_without_a_bom_are_read(tmp_path, encoding):
    p = tmp_path / f"notes-{encoding}.txt"
    p.write_bytes(TEXT.encode(encoding))
    doc = load_document(p)
    assert doc.title == "Café service guide"
    assert doc.sections[0].text == TEXT.split("\n\n")[1].strip()


def test_legacy_code_pages_are_read(tmp_path):
    french = tmp_path / "fr.txt"
    french.write_bytes("Guide\n\nÀ la carte : le café était très apprécié, déjà à Noël.\n".encode("cp1252"))
    assert load_document(french).sections[0].text == "À la carte : le café était très apprécié, déjà à Noël."
    czech = tmp_path / "cz.txt"
    czech.write_bytes("Průvodce\n\nZákazník je spokojený, když je služba rychlá a příjemná.\n".encode("cp1250"))
    assert "Zákazník je spokojený" in load_document(czech).sections[0].text
    russian = tmp_path / "ru.txt"
    russian.write_bytes("Опыт\n\nКлиентский опыт важен для бизнеса и лояльности клиентов.\n".encode("cp1251"))
    assert "Клиентский опыт важен" in load_document(russian).sections[0].text


def test_nul_and_control_characters_are_removed_everywhere(tmp_path, hash_copilot, pdf_factory):
    text = tmp_path / "nuls.txt"
    text.write_bytes(b"Guide\n\n" + b"Net promoter score measures loyalty. " * 400
                     + b"\x00\x00Hidden\x00 text\x07\x1b.")
    md = tmp_path / "ctl.md"
    md.write_bytes(b"---\ntitle: Ti\x01tle\n---\n# Ti\x01tle\n\nLoyalty\x00 is a wish\x1b to buy again.\n")
    html = tmp_path / "ctl.html"
    html.write_bytes(b"<html><head><meta charset='cp1252'><title>Pa\x00ge</title></head><body><p>Effort\x00 "
                     b"score\x7f measures ease.</p></body></html>")
    pdf = pdf_factory("ctl.pdf", ["Retention\x01 rate is the share of customers kept."])
    docs = [load_document(p) for p in (text, md, html, pdf)]
    for doc in docs:
        everything = doc.title + "".join(s.text + "".join(s.headings) for s in doc.sections)
        assert not any(ord(ch) < 32 and ch not in "\t\n\r" or 0x7f <= ord(ch) <= 0x9f for ch in everything), doc.path
    assert "Hidden text." in docs[0].sections[-1].text and docs[1].title == "Title"
    report = hash_copilot.ingest([text, md, html, pdf])
    assert report.ok
    chunks = hash_copilot.store.all()
    assert chunks and not any("\x00" in c.text for c in chunks)


def test_mostly_binary_content_is_refused_with_a_reason(tmp_path):
    for name, data in {"random.txt": bytes(range(256)) * 40, "image.md": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10,
                       "wide-binary.txt": b"\x00\x01\x02\x03" * 3000}.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(LoadError, match="binary content, not text"):
            load_document(p)
    assert "\x00" not in decode_text(tmp_path / "x.txt", b"mostly text " * 100 + b"\x00" * 10)


# ---------------------------------------------------------------- the seeded fuzz

FUZZ_CASES = 1000


def test_a_thousand_broken_files_fail_alone_and_the_good_ones_load(tmp_path, monkeypatch):
    """1,000 seeded mutations of good PDF, HTML, text and Markdown files (byte flips, truncation, noise, NULs,
    control characters, wrong BOMs, UTF-16/32, deep nesting, YAML alias bombs, decompression bombs, broken
    xref), mixed with good files in one load: every case either loads or fails with a one-line reason, every
    good file loads, and the whole batch finishes well within a minute (per-file limit: 5 s). The vectors go to
    a dict-backed store: this is about loading, not about Chroma's write speed."""
    from copilot import Copilot
    from copilot.embeddings import HashEmbedder

    store = MemoryStore()
    cp = Copilot(tmp_path / "index", embedder=HashEmbedder(), store=store, corpus=False)
    monkeypatch.setenv("COPILOT_LOAD_SECONDS", "5")
    monkeypatch.setenv("COPILOT_MAX_DECOMPRESSED_MB", "2")
    cases_dir = tmp_path / "fuzz"
    cases_dir.mkdir()
    cases = fuzz_cases(cases_dir, FUZZ_CASES)
    good = []
    for n, (suffix, data) in enumerate(seeds(tmp_path).items()):
        for k in range(5):
            p = cases_dir / f"good-{n}-{k}{suffix}"
            p.write_bytes(data.replace(b"customer", b"customer" + str(k).encode()) if suffix != ".pdf" else data)
            good.append(p)
    step = len(cases) // len(good)
    batch = [p for i, g in enumerate(good) for p in (*cases[i * step:(i + 1) * step], g)] + cases[len(good) * step:]
    assert sorted(batch) == sorted(cases + good)
    start = time.perf_counter()
    report = cp.ingest(batch)
    seconds = time.perf_counter() - start
    outcomes = {f.path: f for f in report.files}
    assert len(outcomes) == len(batch)
    for p in good:
        assert outcomes[str(p)].status in {"added", "unchanged"}, (p, outcomes[str(p)].reason)
    failed = [outcomes[str(p)] for p in cases if outcomes[str(p)].status == "failed"]
    loaded = [outcomes[str(p)] for p in cases if outcomes[str(p)].status in {"added", "unchanged", "replaced"}]
    assert len(failed) + len(loaded) == len(cases)
    for f in failed:
        assert f.reason and "\n" not in f.reason and "Traceback" not in f.reason and len(f.reason) < 400, f
    kinds = {f.reason.split(" (")[0][:40] for f in failed}
    assert len(failed) > 200 and len(kinds) >= 6, kinds  # the fuzz exercises many different failures
    assert any("decompression bomb" in f.reason for f in failed)
    assert store.count() == sum(f.chunks for f in report.files if f.status == "added")
    assert seconds < 60, f"the batch took {seconds:.0f} s"


def test_a_pipe_is_refused_without_reading_it(tmp_path):
    import os

    fifo = tmp_path / "notes.txt"
    os.mkfifo(fifo)
    with pytest.raises(LoadError, match="not a regular file"):
        load_document(fifo)


def test_a_file_named_twice_in_one_load_is_loaded_once(tmp_path, hash_copilot):
    folder = tmp_path / "docs"
    folder.mkdir()
    doc = _good(folder)
    loop = folder / "loop.md"
    loop.symlink_to(loop)
    report = hash_copilot.ingest([folder, doc, str(doc), loop])
    assert [(Path(f.path).name, f.status) for f in report.files] == [("loyalty.md", "added"), ("loop.md", "failed")]
    assert report.files[1].reason == "file not found"


def test_the_fuzz_cases_are_reproducible(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    assert [p.read_bytes() for p in fuzz_cases(a, 30)] == [p.read_bytes() for p in fuzz_cases(b, 30)]
    assert GOOD_MD.encode() in seeds(a).values()
