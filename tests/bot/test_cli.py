"""The `qabot` command line, run as users and other tools run it: a real process."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, HEADLINE_TR
from tests.readonly import read_only_folder

CONTRACT = {"question", "answered", "passages", "latency_ms"}
PASSAGE = {"text", "highlight", "score", "article_id", "title", "source_url", "date"}
OPTIONAL = {"attribution", "also"}  # added by issue 14, only when known


def qabot(
    *args: str, cwd: Path, stdin: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDDING_MODEL": "none"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_ask_builds_the_index_and_prints_the_json_contract(tmp_path: Path, corpus_dir: Path):
    assert corpus_dir == tmp_path / "corpus"  # ./corpus of the working directory
    done = qabot("ask", "--json", "-k", "2", HEADLINE_TR, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    answer = json.loads(lines[0])
    assert set(answer) == CONTRACT and answer["answered"] is True
    assert answer["question"] == HEADLINE_TR
    assert len(answer["passages"]) == 2
    assert all(PASSAGE <= set(p) <= PASSAGE | OPTIONAL for p in answer["passages"])
    assert answer["passages"][0]["attribution"] == "VNA'ya göre"
    assert "Le Minh Hung" in answer["passages"][0]["text"]
    assert (tmp_path / "data" / "qabot.sqlite3").exists()


def test_several_questions_one_json_line_each_in_order(tmp_path: Path, corpus_dir: Path):
    questions = [HEADLINE_TR, "What is the tallest mountain in Japan?", "Yarın hava nasıl olacak?"]
    by_args = qabot("ask", "--json", *questions, cwd=tmp_path)
    by_stdin = qabot("ask", "--json", "-", cwd=tmp_path, stdin="\n".join(questions) + "\n")
    for done in (by_args, by_stdin):
        assert done.returncode == 0, done.stderr
        answers = [json.loads(line) for line in done.stdout.strip().splitlines()]
        assert [a["question"] for a in answers] == questions
        assert [a["answered"] for a in answers] == [True, False, False]


def test_ask_as_of_a_day_answers_as_a_reader_on_that_day(tmp_path: Path):
    """The dated news fixture: a period without news is declined with the latest date,
    a reposted story is one passage with its other outlets, later articles are unused."""
    shutil.copytree(FIXTURES / "news" / "corpus", tmp_path / "corpus")
    questions = ["Bugün ne oldu?", "Dün Van Gölü'nde inci kefali göçü başladı mı?"]
    declined, copies = (
        json.loads(qabot("ask", "--json", "--as-of", day, q, cwd=tmp_path).stdout)
        for q, day in zip(questions, ("2026-12-01", "2026-05-13"), strict=True)
    )
    assert declined["answered"] is False and declined["passages"] == []
    assert declined["declined"]["latest_date"] == "2026-10-01"
    first = copies["passages"][0]
    assert copies["answered"] and first["article_id"] == "van-inci-kefali-aa"
    assert [c["source_url"] for c in first["also"]] == [
        "https://gazete-a.example/van/inci-kefalleri-delicay",
        "https://gazete-b.example/yasam/van-inci-kefali-gocu-erken",
    ]
    assert {p["article_id"] for p in copies["passages"][1:]}.isdisjoint(
        {"van-inci-kefali-gazete-a", "van-inci-kefali-gazete-b"}
    )
    early = qabot("ask", "--as-of", "2026-04-15", "Politika faizi yüzde kaç?", cwd=tmp_path)
    assert early.returncode == 0 and "2026-06-18" not in early.stdout
    assert "2026-03-19 · Kaynak: AA · https://haber.example/" in early.stdout
    text = qabot("ask", "--as-of", "2026-12-01", "Bugün ne oldu?", cwd=tmp_path).stdout
    assert "Derlemde 2026-12-01 tarihli haber yok; en yeni haberler 2026-10-01 tarihli." in text
    bad = qabot("ask", "--as-of", "dün", "Bugün ne oldu?", cwd=tmp_path)
    assert bad.returncode == 2 and "expected a date as YYYY-MM-DD" in bad.stderr


def test_index_reports_counts_and_skipped_files(tmp_path: Path, corpus_dir: Path):
    (corpus_dir / "broken.md").write_text("---\ntitle: [x\n---\nMetin.\n", encoding="utf-8")
    done = qabot("index", "--corpus", str(corpus_dir), "--data", str(tmp_path / "d"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "articles: 2" in done.stdout and "new: 2" in done.stdout
    assert "skipped broken.md: malformed front matter" in done.stdout
    again = qabot("index", "--corpus", str(corpus_dir), "--data", str(tmp_path / "d"), cwd=tmp_path)
    assert "new: 0  changed: 0  removed: 0" in again.stdout


def test_eval_json_reports_all_three_rankings(tmp_path: Path):
    done = qabot("eval", "--squad", str(FIXTURES / "xquad-small.tr.json"), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {"lexical", "dense", "fused"} and result["dense"] is None
    assert set(result["lexical"]) == {"recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"}


def test_eval_holdout_asks_each_question_of_an_index_rebuilt_without_its_document(tmp_path):
    squad = str(FIXTURES / "xquad-small.tr.json")  # 2 documents of 3 paragraphs, 12 questions
    done = qabot("eval", "--squad", squad, "--holdout", "--json", "--data", "d", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    held = json.loads(done.stdout)["holdout"]
    assert (held["questions"], held["documents"], held["folds"]) == (12, 2, 1)
    assert held["answered_in_corpus"] >= held["answered_right_in_corpus"] > 0.5
    assert held["answered_held_out"] <= 0.25
    text = qabot(
        "eval", "--squad", squad, "--holdout", "--split", "test", "--data", "d", cwd=tmp_path
    )
    assert "with their document removed and re-indexed (1 documents in 1 folds)" in text.stdout


def test_chat_answers_until_end_of_input(tmp_path: Path, corpus_dir: Path):
    done = qabot("chat", cwd=tmp_path, stdin=HEADLINE_TR + "\n")
    assert done.returncode == 0, done.stderr
    assert "2 articles" in done.stdout and "Le Minh Hung" in done.stdout


def failure_line(done: subprocess.CompletedProcess) -> str:
    """A failing command says why in one `qabot:` line, and nothing else: no traceback."""
    assert done.returncode != 0, done.stdout
    lines = [line for line in done.stderr.splitlines() if " WARNING " not in line]
    assert len(lines) == 1 and lines[0].startswith("qabot: "), done.stderr
    return lines[0]


def test_passages_per_answer_must_be_at_least_one(tmp_path: Path, corpus_dir: Path):
    done = qabot("ask", "-k", "-1", HEADLINE_TR, cwd=tmp_path)
    assert done.returncode == 2 and "must be at least 1" in done.stderr


def test_an_empty_question_is_an_error_and_json_lines_stay_aligned(
    tmp_path: Path, corpus_dir: Path
):
    assert failure_line(qabot("ask", "  ", cwd=tmp_path)) == "qabot: the question is empty"
    done = qabot("ask", "--json", "-", cwd=tmp_path, stdin=f"{HEADLINE_TR}\n\nKim?\n")
    assert done.returncode == 1
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert answers[1] == {"question": "", "error": "empty question"}
    assert [a["question"] for a in answers] == [HEADLINE_TR, "", "Kim?"]


def test_a_corpus_that_is_missing_or_not_a_folder_fails_in_one_line(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("Metin.", encoding="utf-8")
    for corpus, reason in (("missing", "does not exist"), ("notes.txt", "is not a folder")):
        done = qabot("index", "--corpus", str(tmp_path / corpus), cwd=tmp_path)
        assert reason in failure_line(done)
    assert not (tmp_path / "data").exists()


def test_index_refuses_to_empty_the_index_unless_told(tmp_path: Path, corpus_dir: Path):
    assert qabot("index", cwd=tmp_path).returncode == 0
    (tmp_path / "empty").mkdir()
    refused = qabot("index", "--corpus", str(tmp_path / "empty"), cwd=tmp_path)
    assert "remove 2 of 2 articles" in failure_line(refused)
    assert "--allow-mass-delete" in refused.stderr
    done = qabot("index", "--corpus", str(tmp_path / "empty"), "--allow-mass-delete", cwd=tmp_path)
    assert done.returncode == 0 and "removed: 2" in done.stdout


def test_a_damaged_database_fails_in_one_line_instead_of_hanging(tmp_path: Path, corpus_dir: Path):
    assert qabot("index", cwd=tmp_path).returncode == 0
    with open(tmp_path / "data" / "qabot.sqlite3", "r+b") as fh:
        fh.write(b"\x00" * 100)
    done = qabot("ask", HEADLINE_TR, cwd=tmp_path, timeout=60)
    assert "qabot.sqlite3 is damaged" in failure_line(done)


def test_ask_answers_from_a_read_only_index(tmp_path: Path, corpus_dir: Path):
    assert qabot("index", cwd=tmp_path).returncode == 0
    with read_only_folder(tmp_path / "data"):
        done = qabot("ask", "--json", HEADLINE_TR, cwd=tmp_path, timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["answered"] is True
        chat = qabot("chat", cwd=tmp_path, stdin=HEADLINE_TR + "\n", timeout=60)
        assert chat.returncode == 0 and "Le Minh Hung" in chat.stdout
        refused = qabot("index", cwd=tmp_path, timeout=60)
        assert "cannot be written" in failure_line(refused)


def test_ask_without_an_index_in_a_read_only_folder_fails_in_one_line(
    tmp_path: Path, corpus_dir: Path
):
    (tmp_path / "data").mkdir()
    with read_only_folder(tmp_path / "data"):
        done = qabot("ask", HEADLINE_TR, cwd=tmp_path, timeout=60)
    assert "there is no index" in failure_line(done)


@pytest.mark.model
def test_gc_frees_cached_vectors_of_removed_passages(
    tmp_path: Path, corpus_dir: Path, minilm_path: str
):
    model = ("--model", minilm_path)
    assert qabot("index", *model, cwd=tmp_path).returncode == 0
    (corpus_dir / "003_b1c4bbe646cb7f18.txt").unlink()
    assert "removed: 1" in qabot("index", *model, cwd=tmp_path).stdout
    kept = qabot("gc", cwd=tmp_path)
    assert kept.returncode == 0 and kept.stdout.startswith("freed 0 cached vectors")
    freed = qabot("gc", "--all", cwd=tmp_path)
    assert freed.returncode == 0 and not freed.stdout.startswith("freed 0 ")
