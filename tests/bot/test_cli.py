"""The `qabot` command line, run as users and other tools run it: a real process."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import FIXTURES, HEADLINE_TR

CONTRACT = {"question", "answered", "passages", "latency_ms"}
PASSAGE = {"text", "highlight", "score", "article_id", "title", "source_url", "date"}


def qabot(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDDING_MODEL": "none"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
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
    assert len(answer["passages"]) == 2 and set(answer["passages"][0]) == PASSAGE
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


def test_chat_answers_until_end_of_input(tmp_path: Path, corpus_dir: Path):
    done = qabot("chat", cwd=tmp_path, stdin=HEADLINE_TR + "\n")
    assert done.returncode == 0, done.stderr
    assert "2 articles" in done.stdout and "Le Minh Hung" in done.stdout
