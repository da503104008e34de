from copilot.chunking import ChunkSettings, chunk_document
from copilot.documents import Document, Section, load_document
from copilot.text import count_words


def _doc(sections, kind="markdown"):
    return Document("guide.md", "/x/guide.md", kind, "CX guide", sections)


def test_each_section_is_one_chunk_with_title_and_section_path(small_corpus):
    chunks = chunk_document(load_document(small_corpus / "nps.md"))
    assert [c.section for c in chunks] == ["What is NPS?", "How is NPS calculated?"]
    assert all(c.title == "Net Promoter Score (NPS)" and c.source == "nps.md" for c in chunks)
    assert chunks[1].embedding_text().startswith("Net Promoter Score (NPS) — How is NPS calculated?\n")
    assert chunks[1].metadata()["section"] == "How is NPS calculated?"


def test_long_sections_split_on_paragraphs_within_the_word_limit():
    paras = [" ".join(f"word{i}x{j}" for j in range(60)) + "." for i in range(5)]
    chunks = chunk_document(_doc([Section("\n\n".join(paras), ("Long",))]), ChunkSettings(max_words=130))
    assert len(chunks) == 3
    assert all(count_words(c.text) <= 130 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == "\n\n".join(paras).split()  # nothing lost or repeated


def test_a_run_on_paragraph_splits_at_sentences():
    sentences = [f"Sentence {i} talks about customer effort in detail here." for i in range(40)]
    chunks = chunk_document(_doc([Section(" ".join(sentences), ("S",))]), ChunkSettings(max_words=100))
    assert len(chunks) >= 4
    assert all(c.text.endswith("here.") for c in chunks)


def test_ids_are_content_derived_and_stable():
    alpha, beta = "Alpha text about CX. " * 10, "Beta text about NPS. " * 10
    a = chunk_document(_doc([Section(alpha, ("A",)), Section(beta, ("B",))]))
    b = chunk_document(_doc([Section(alpha, ("A",)), Section(beta + "Changed.", ("B",))]))
    assert a[0].id == b[0].id
    assert a[1].id != b[1].id
    assert len({c.id for c in a}) == 2


def test_tiny_sections_merge_with_the_next_one():
    chunks = chunk_document(_doc([Section("Short intro.", ("Intro",)),
                                  Section("A proper section with enough words " * 5, ("Body",))]))
    assert len(chunks) == 1 and chunks[0].text.startswith("Short intro.")


def test_pdf_chunks_keep_their_page():
    chunks = chunk_document(_doc([Section("Page one text.", (), 1), Section("Page two text.", (), 2)], kind="pdf"))
    assert [c.page for c in chunks] == [1, 2]
    assert chunks[0].metadata()["page"] == 1
