"""Every loader, and every kind of bad file: one clear reason naming the file."""

import pytest
from pypdf import PdfReader, PdfWriter

from copilot.documents import load_document
from copilot.errors import LoadError


def test_markdown_front_matter_and_headings(small_corpus):
    doc = load_document(small_corpus / "nps.md")
    assert doc.title == "Net Promoter Score (NPS)"
    assert doc.metadata["topic"] == "metrics"
    assert doc.metadata["sources"][0]["name"] == "Bain & Company"
    assert [s.path for s in doc.sections] == ["What is NPS?", "How is NPS calculated?"]
    assert doc.sections[1].text.startswith("NPS is calculated by subtracting")
    assert doc.kind == "markdown" and doc.source == "nps.md"


def test_markdown_nested_heading_path(tmp_path):
    p = tmp_path / "g.md"
    p.write_text("# Glossary\n\n## Metrics\n\n### Detractor\n\nA detractor scores 0 to 6.\n\n### Promoter\n\nA promoter scores 9 or 10.\n")
    doc = load_document(p)
    assert [s.path for s in doc.sections] == ["Metrics > Detractor", "Metrics > Promoter"]


def test_markdown_without_title_uses_file_name(tmp_path):
    p = tmp_path / "churn-basics.md"
    p.write_text("Churn is the share of customers who leave in a period.\n")
    assert load_document(p).title == "Churn basics"


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16", "utf-8-sig"])
def test_plain_text_in_common_encodings(tmp_path, encoding):
    text = "Café service guide\n\nThe café’s net promoter score rose to +42 — a record.\n" if encoding != "latin-1" \
        else "Café service guide\n\nThe café's net promoter score rose to +42, a record.\n"
    p = tmp_path / f"notes-{encoding}.txt"
    p.write_bytes(text.encode(encoding))
    doc = load_document(p)
    assert doc.title == "Café service guide"
    assert "café" in doc.sections[0].text and "+42" in doc.sections[0].text


def test_html_keeps_main_text_only(tmp_path):
    p = tmp_path / "page.html"
    p.write_text("""<!doctype html><html><head><title>Closing the loop | Acme</title>
    <style>.x{color:red}</style><script>var tracking = "SECRET-SCRIPT";</script></head>
    <body><nav><a href="/">Home</a> <a href="/pricing">Pricing menu</a></nav>
    <header class="site-header">Acme header banner</header>
    <main><h1>Closing the loop</h1><p>Closing the loop means following up with customers who gave feedback.</p>
    <h2>Inner loop</h2><p>The inner loop is the frontline follow-up with one customer.</p>
    <div class="cookie-banner">We use cookies</div></main>
    <footer>Copyright Acme footer</footer></body></html>""")
    doc = load_document(p)
    body = " ".join(s.text for s in doc.sections)
    assert doc.title == "Closing the loop"  # the site name is not part of the title
    assert "following up with customers" in body and "frontline follow-up" in body
    for junk in ("SECRET-SCRIPT", "color:red", "Pricing menu", "header banner", "cookies", "footer"):
        assert junk not in body
    assert [s.path for s in doc.sections] == ["", "Inner loop"]


def test_pdf_pages_are_kept(pdf_factory):
    p = pdf_factory("guide.pdf", ["Churn rate guide\nChurn rate is the share of customers lost in a period.",
                                   "Retention rate is the share of customers kept over a period."], title="Churn guide")
    doc = load_document(p)
    assert doc.kind == "pdf" and doc.pages == 2 and doc.title == "Churn guide"
    assert [s.page for s in doc.sections] == [1, 2]
    assert "share of customers lost" in doc.sections[0].text


def _encrypted(pdf_factory, tmp_path):
    src = pdf_factory("plain.pdf", ["Secret CX plan"])
    writer = PdfWriter(clone_from=PdfReader(src))
    writer.encrypt("s3cret")
    out = tmp_path / "locked.pdf"
    with open(out, "wb") as fh:
        writer.write(fh)
    return out


@pytest.mark.parametrize("case, reason", [
    ("encrypted", "encrypted"),
    ("truncated", "damaged or truncated"),
    ("fake", "not a PDF"),
    ("no_text", "no extractable text"),
    ("empty", "empty"),
    ("binary", "binary"),
    ("unsupported", "unsupported file type '.docx'"),
    ("bad_front_matter", "front matter is not valid YAML"),
    ("missing", "file not found"),
])
def test_bad_files_get_one_clear_reason(case, reason, tmp_path, pdf_factory):
    if case == "encrypted":
        p = _encrypted(pdf_factory, tmp_path)
    elif case == "truncated":
        good = pdf_factory("whole.pdf", ["Some text about CX " * 40, "More text " * 40]).read_bytes()
        p = tmp_path / "cut.pdf"
        p.write_bytes(good[: len(good) // 3])
    elif case == "fake":
        p = tmp_path / "report.pdf"
        p.write_text("this is just text with a pdf extension")
    elif case == "no_text":
        p = pdf_factory("scan.pdf", [""])
    elif case == "empty":
        p = tmp_path / "empty.md"
        p.write_text("  \n")
    elif case == "binary":
        p = tmp_path / "data.txt"
        p.write_bytes(bytes(range(256)) * 20)
    elif case == "unsupported":
        p = tmp_path / "deck.docx"
        p.write_bytes(b"PK\x03\x04 something")
    elif case == "bad_front_matter":
        p = tmp_path / "broken.md"
        p.write_text("---\ntitle: [unclosed\n---\n# Hi\n\nText here.\n")
    else:
        p = tmp_path / "nowhere.md"
    with pytest.raises(LoadError) as err:
        load_document(p)
    assert err.value.path == str(p)
    assert reason in err.value.reason
    assert str(p) in str(err.value)


def test_titles_read_as_a_person_would_name_the_document():
    from copilot.documents import readable_title

    assert readable_title("Returns policy | Acme Outdoor - Help") == "Returns policy"
    assert readable_title("Journey mapping: a practical guide") == "Journey mapping: a practical guide"
    assert readable_title("Microsoft Word - complaints-standard.docx") == "complaints-standard"
    assert readable_title("CX playbook — Acme", site="Acme") == "CX playbook"


def test_html_lists_keep_their_heading_and_markers(tmp_path):
    page = tmp_path / "recovery.html"
    page.write_text("""<html><head><title>Service recovery | Acme Help Centre</title></head><body>
    <nav><a href="/">Home</a> <a href="/help">Help</a></nav>
    <main><h1>Service recovery</h1><h2>The four steps</h2><p>The four steps of service recovery are:</p>
    <ul><li>Acknowledge the problem.</li><li>Apologise sincerely.</li><li>Fix it at the root.</li>
    <li>Follow up within a week.</li></ul><p>Teams that follow them keep more customers.</p></main>
    <footer>Copyright Acme</footer></body></html>""")
    doc = load_document(page)
    assert doc.title == "Service recovery"
    [section] = [s for s in doc.sections if "four steps" in s.text]
    assert section.headings == ("The four steps",)
    assert "- Acknowledge the problem.\n- Apologise sincerely.\n- Fix it at the root.\n- Follow up within a week." \
        in section.text
    assert "Home" not in section.text and "Copyright" not in " ".join(s.text for s in doc.sections)
