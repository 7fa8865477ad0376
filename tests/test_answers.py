"""Answers: the sentence of each result's article that answers the query, with exact offsets,
a named speaker for "who" questions, "no answer" when nothing does, and `search --answer`."""

from __future__ import annotations

import json

import pytest

from index.builder import add_articles
from index.documents import Article
from index.layout import IndexPaths
from search.answering.answers import Answerer, AnswerWeights
from search.answering.attribution import name_in
from search.retrieval.opened import OpenIndex

from conftest import NK_SAMPLE, NK_SEED, run, without_sentence_vectors

QUESTION = "who proposed talks without preconditions"

LIBRARY = Article(
    id="council", title="Council passes budget after long debate", date="2024-03-05", source="Test Wire",
    text=("The city council approved its annual budget on Tuesday after a debate that ran past midnight. "
          "Councillors argued over road repairs and the cost of street lighting.\n\n"
          "The mayor said the new public library on Elm Street would open its doors to readers in March "
          "next year. Parking charges in the centre will rise by ten percent.\n\n"
          "The opposition voted against the plan, calling it timid."))
LIBRARY_ANSWER = "The mayor said the new public library on Elm Street would open its doors to readers in March next year."
# No word in common with its answer, which is the fourth sentence.
PARAPHRASE = "how much dearer will it get to leave a car downtown"
PARKING_ANSWER = "Parking charges in the centre will rise by ten percent."


@pytest.fixture(scope="module")
def council_index(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("council") / "ix"
    add_articles(IndexPaths(root), [LIBRARY], embedder)
    return root


def _answers(root, query, ids, weights=AnswerWeights()):
    ix = OpenIndex(root)
    try:
        vector = ix.embedder.encode_queries([query])[0]
        return Answerer(ix, weights).answers(query, vector, ids), ix.store.article_texts(ids)
    finally:
        ix.close()


def test_mission_question_names_the_secretary_of_state_and_blinken(sample_index, seed_dir):
    answers, texts = _answers(sample_index, QUESTION, [NK_SAMPLE, NK_SEED])
    sample, seed = answers[NK_SAMPLE], answers[NK_SEED]
    assert "no preconditions" in sample.text and "Secretary of State" in sample.who
    assert seed.text.startswith("US Secretary of State Antony Blinken said Thursday")
    assert "no preconditions" in seed.text and "Blinken" in seed.who
    for aid, answer in answers.items():
        assert texts[aid][answer.start:answer.end] == answer.text


def test_paraphrase_gets_the_answering_sentence_not_the_lead(council_index):
    answers, _ = _answers(council_index, PARAPHRASE, ["council"])
    assert answers["council"].text == PARKING_ANSWER


def test_join_margin_joins_a_close_neighbour_of_about_the_same_length(council_index):
    # The parking sentence (10 words) scores ~0.3 above the next, "The opposition voted ..."
    # (9 words), and far above the 20-word library sentence before it.
    default = _answers(council_index, PARAPHRASE, ["council"])[0]["council"]
    assert default.text == PARKING_ANSWER
    answers, texts = _answers(council_index, PARAPHRASE, ["council"], AnswerWeights(join_margin=0.5))
    joined = answers["council"]
    assert joined.text == f"{PARKING_ANSWER}\n\nThe opposition voted against the plan, calling it timid."
    assert texts["council"][joined.start:joined.end] == joined.text and joined.start == default.start
    narrow, _ = _answers(council_index, PARAPHRASE, ["council"], AnswerWeights(join_margin=0.2))
    assert narrow["council"].text == PARKING_ANSWER
    # The library sentence (20 words) has only shorter neighbours (11 and 10 words): never joined.
    wide, _ = _answers(council_index, "new public library opening to readers", ["council"], AnswerWeights(join_margin=9))
    assert wide["council"].text == LIBRARY_ANSWER


def test_no_answer_when_the_article_does_not_answer(council_index):
    answers, _ = _answers(council_index, "which striker did the football club sign for a record fee", ["council"])
    assert answers["council"] is None


def test_json_offsets_slice_the_article_text(runner, sample_index):
    result = run(runner, "search", QUESTION, "--index", sample_index, "-k", "5", "--format", "jsonl")
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    ix = OpenIndex(sample_index)
    texts = ix.store.article_texts([r["id"] for r in records])
    ix.close()
    assert records[0]["id"] in (NK_SAMPLE, NK_SEED) and records[0]["answer"] is not None
    for r in records:
        if r["answer"] is not None:
            a = r["answer"]
            assert texts[r["id"]][a["start"]:a["end"]] == a["text"]
            assert set(a) >= {"text", "start", "end", "score"}


def test_answer_option_prints_the_top_answer_line(runner, sample_index, council_index):
    result = run(runner, "search", "-a", QUESTION, "--index", sample_index)
    assert result.exit_code == 0
    [line] = result.stdout.splitlines()
    assert "Secretary of State" in line and "no preconditions" in line
    assert line.endswith("(2022-01-14, Byline Sample Wire)")
    result = run(runner, "search", "--answer", PARAPHRASE, "--index", council_index)
    assert result.stdout == f"{PARKING_ANSWER} — {LIBRARY.title} (2024-03-05, Test Wire)\n"
    # Nothing in the index is about zebras: the relevance floor leaves no article (and no answer) ...
    result = run(runner, "search", "-a", "migration of zebras across the savannah", "--index", council_index)
    assert result.exit_code == 1 and result.stdout == "no answer\n"
    # ... and with the floor off the top result is shown without an answer.
    result = run(runner, "search", "-a", "migration of zebras across the savannah", "--all", "--index", council_index)
    assert result.exit_code == 1 and result.stdout.startswith("no answer (top result: Council passes budget")


def test_table_shows_the_answer_above_the_passage(runner, council_index):
    result = run(runner, "search", PARAPHRASE, "--index", council_index, "--format", "table")
    cells = [line.split("│")[4] for line in result.stdout.splitlines() if line.count("│") == 5]
    column = " ".join(" ".join(cells).split())  # the "answer · best passage" column, unwrapped
    column = column.replace("[", "").replace("]", "")  # the query's words, marked where no colour shows
    assert column.startswith(f"… {PARKING_ANSWER} … … would open its doors to readers")


def test_saved_search_results_carry_the_answer(runner, index_copy):
    assert run(runner, "saved", "add", "--index", index_copy, "talks", QUESTION).exit_code == 0
    result = run(runner, "saved", "run", "talks", "--index", index_copy, "--format", "jsonl")
    first = json.loads(result.stdout.splitlines()[0])
    assert "no preconditions" in first["answer"]["text"]


def test_index_without_sentence_vectors_still_answers(runner, council_index, tmp_path):
    root = without_sentence_vectors(council_index, tmp_path / "old")
    result = run(runner, "search", "-a", "new public library opening to readers", "--index", root)
    assert result.exit_code == 0 and result.stdout.startswith(LIBRARY_ANSWER)


def test_who_names_the_speaker():
    assert name_in("Prime Minister Tony Blair, the Labour leader, told MPs the plan would go ahead.") \
        == "Prime Minister Tony Blair"
    assert name_in('"We are ready to talk," said Sung Kim, the envoy.') == "Sung Kim"
    assert name_in("Washington's top diplomat said talks could resume.",
                   "US ready to talk, Secretary of State says") == "Secretary of State"
    assert name_in("The weather was fine.") is None
