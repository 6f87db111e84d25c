from service.translation.batching import plan_batches


def test_every_index_appears_once():
    lengths = [5, 1, 9, 3, 3, 7, 2]
    batches = plan_batches(lengths, 10)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))


def test_padded_size_stays_within_budget():
    lengths = [30, 10, 12, 11, 29, 5, 6, 31]
    for batch in plan_batches(lengths, 64):
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 64


def test_similar_lengths_share_batches_longest_first():
    # sorted: 51, 50 | 49, 3 (2 x 49 fits 110) | 2, 2
    assert plan_batches([2, 50, 3, 49, 2, 51], 110) == [[5, 1], [3, 2], [0, 4]]


def test_oversized_sentence_gets_its_own_batch():
    assert plan_batches([100, 1, 1], 10) == [[0], [1, 2]]


def test_empty_input_gives_no_batches():
    assert plan_batches([], 10) == []
