"""The memorisation check: nearest training images of samples against those of held-out images."""
import pytest
import torch

from ganforge.data.dataset import to_float
from ganforge.errors import GanforgeError
from ganforge.metrics.scores.memorisation import closest_pairs, copy_check, memorisation, nearest, nearest_grid, nearest_two


def sets(seed=0):
    g = torch.Generator().manual_seed(seed)
    train = torch.rand(50, 3, 8, 8, generator=g) * 2 - 1
    held_out = torch.rand(20, 3, 8, 8, generator=g) * 2 - 1
    samples = torch.rand(10, 3, 8, 8, generator=g) * 2 - 1
    return train, held_out, samples


def test_a_planted_copy_is_found_and_flagged():
    train, held_out, samples = sets()
    samples[3] = train[17]
    samples[7] = train[42] + 0.001
    result = memorisation(samples, train, held_out)
    pixels = result["pixels"]
    assert pixels["index"][3] == 17 and pixels["index"][7] == 42
    assert pixels["distance"][3] == 0.0 and pixels["distance"][7] < 0.02
    flagged = pixels["distance"] < pixels["threshold"]
    assert flagged[3] and flagged[7] and result["summary"]["pixels"]["copies"] >= 0.2  # both planted copies flagged
    others = torch.ones(10, dtype=torch.bool)
    others[[3, 7]] = False
    assert pixels["distance"][others].min() > 100 * pixels["distance"][7]
    assert len(pixels["held_out_distance"]) == 20


def test_a_copying_model_has_a_ratio_far_below_one_and_new_images_about_one():
    train, held_out, samples = sets()
    copies = train[:10] + 0.01 * torch.randn(10, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    assert memorisation(copies, train, held_out)["summary"]["pixels"]["ratio"] < 0.1
    fresh = memorisation(samples, train, held_out)["summary"]["pixels"]
    assert 0.8 < fresh["ratio"] < 1.2 and fresh["copies"] < 0.2


def test_feature_space_and_the_grid():
    train, held_out, samples = sets()
    samples[0] = train[5]
    result = memorisation(samples, train, held_out, features=lambda x: x.mean(dim=(2, 3)))
    assert result["features"]["index"][0] == 5 and "features" in result["summary"]
    grid = nearest_grid(samples[:4], train)
    assert grid.shape == (8, 3, 8, 8)
    assert torch.equal(grid[0], samples[0]) and torch.equal(grid[1], train[5])


def test_nearest_is_euclidean():
    d, i = nearest(torch.tensor([[0.0, 0.0], [3.0, 4.0]]), torch.tensor([[3.0, 0.0], [3.0, 5.0]]))
    assert i.tolist() == [0, 1] and d.tolist() == pytest.approx([3.0, 1.0])


def test_mismatched_sets_are_one_sentence_errors():
    train, held_out, samples = sets()
    with pytest.raises(GanforgeError, match="cannot be compared"):
        memorisation(samples[:, :1], train, held_out)
    with pytest.raises(GanforgeError, match="at least 2 held-out"):
        memorisation(samples, train, held_out[:1])


@pytest.fixture(scope="module")
def digits():
    """2,000 MNIST training digits and 950 test digits, float in [-1, 1]."""
    from ganforge.data import load_dataset
    from ganforge.data.dataset import to_float

    return to_float(load_dataset("mnist", split="train").images[:2000]), to_float(load_dataset("mnist", split="test").images[:950])


def test_training_images_passed_off_as_samples_are_flagged_without_a_held_out_split(digits):
    train, honest = digits  # the honest samples: real digits the "model" never saw
    g = torch.Generator().manual_seed(0)
    copied = torch.randperm(len(train), generator=g)[:50]
    copies = (train[copied] + 0.05 * torch.randn(50, *train.shape[1:], generator=g)).clamp(-1, 1)  # faint noise on each copy
    order = torch.randperm(1000, generator=g)
    samples = torch.cat([honest, copies])[order]
    is_copy = (order >= 950)
    check = copy_check(samples, train)  # no held-out images: the training images' leave-one-out distances instead
    flagged = check.flagged
    assert int(flagged[is_copy].sum()) >= 45  # the bar: at least 45 of the 50 copies
    assert int(flagged[~is_copy].sum()) <= 9  # and few of the 950 others (under 1 %: the quantile is 1 %)
    assert torch.equal(check.index[is_copy], copied[order[is_copy] - 950])  # each copy found its own original
    summary = check.summary()
    assert summary["reference"] == "leave-one-out" and summary["space"] == "pixels" and summary["n_reference"] == 2000
    assert summary["flagged"] == int(flagged.sum()) and summary["copies"] == pytest.approx(int(flagged.sum()) / 1000)
    assert 0.85 < copy_check(honest, train).summary()["ratio"] < 1.15  # new real digits sit as far as the leave-one-out ones


def test_leave_one_out_excludes_the_image_itself_but_not_its_duplicates():
    train = torch.tensor([[0.0], [1.0], [3.0], [3.0], [7.0]]).view(5, 1, 1, 1)
    check = copy_check(torch.tensor([0.9, 2.9, 5.5]).view(3, 1, 1, 1), train, quantile=0.5)
    assert check.reference_distance.tolist() == pytest.approx([1.0, 1.0, 0.0, 0.0, 4.0])
    assert check.distance.tolist() == pytest.approx([0.1, 0.1, 1.5]) and check.second_distance.tolist() == pytest.approx([0.9, 0.1, 2.5])
    # 0.9 hugs one training image; 2.9 is as near to two duplicates (so copies of duplicated images go unflagged); 5.5 is far
    assert check.threshold == pytest.approx(1.0) and check.flagged.tolist() == [True, False, False]
    assert check.index.tolist()[0] == 1 and check.index.tolist()[1] in (2, 3)


def test_an_average_picture_near_every_training_image_is_not_a_copy():
    g = torch.Generator().manual_seed(0)
    train = torch.rand(40, 3, 16, 16, generator=g) * 2 - 1  # pictures of independent noise: all about equally far apart
    gray = 0.05 * torch.randn(20, 3, 16, 16, generator=g)  # what an untrained generator draws
    check = copy_check(gray, train)
    assert bool((check.distance <= check.threshold).all())  # nearer than any two real pictures are...
    assert int(check.flagged.sum()) == 0  # ...but no nearer to one of them than to the next: not a copy
    copies = copy_check(train[:5] + 0.01 * torch.randn(5, 3, 16, 16, generator=g), train)
    assert copies.flagged.tolist() == [True] * 5


def test_the_reference_subset_is_seeded_and_held_out_images_are_used_when_given():
    train, held_out, samples = sets()
    a = copy_check(samples, train, max_reference=20, seed=3)
    assert len(a.reference_distance) == 20 and torch.equal(a.reference_distance, copy_check(samples, train, max_reference=20, seed=3).reference_distance)
    b = copy_check(samples, train, held_out)
    assert b.reference == "held-out" and torch.equal(b.reference_distance, nearest(held_out.flatten(1), train.flatten(1))[0])
    features = copy_check(samples, train, features=lambda x: x.mean(dim=(2, 3)), space="channel means")
    assert features.summary()["space"] == "channel means"


def test_uint8_images_are_read_as_the_library_floats_and_the_closest_pairs_come_first():
    train, _, samples = sets()
    train8 = ((train + 1) * 127.5).round().to(torch.uint8)
    samples[2] = to_float(train8[9])
    check = copy_check(samples, train8)
    assert check.distance[2] == 0.0 and check.index[2] == 9
    pairs = closest_pairs(check, samples, train8, pairs=2)
    assert pairs.shape == (4, 3, 8, 8) and torch.equal(pairs[0], samples[2]) and torch.equal(pairs[1], to_float(train8[9]))


def test_copy_check_refuses_what_it_cannot_compare():
    train, held_out, samples = sets()
    with pytest.raises(GanforgeError, match="cannot be compared"):
        copy_check(samples[:, :1], train)
    with pytest.raises(GanforgeError, match="at least 2 training images"):
        copy_check(samples, train[:1])
    with pytest.raises(GanforgeError, match="quantile 1.5"):
        copy_check(samples, train, quantile=1.5)


def brute_force_two(queries, references, exclude=None):
    d = torch.cdist(queries, references)
    if exclude is not None:
        d[torch.arange(len(queries)), exclude] = float("inf")
    values, index = d.topk(2, dim=1, largest=False)
    return values, index


@pytest.mark.parametrize("chunk", [1, 3, 7, 4096])
def test_the_chunked_search_finds_what_a_search_over_all_references_at_once_finds(chunk):
    g = torch.Generator().manual_seed(0)
    references, queries = torch.randn(23, 5, generator=g), torch.randn(9, 5, generator=g)
    values, index = brute_force_two(queries, references)
    distance, found, second = nearest_two(queries, references, batch_size=4, chunk=chunk)
    assert torch.equal(found, index[:, 0]) and torch.allclose(distance, values[:, 0]) and torch.allclose(second, values[:, 1])
    exclude = torch.randint(0, 23, (9,), generator=g)
    exclude[0] = index[0, 0]  # query 0 may not pick its nearest: it gets its second nearest
    values, index = brute_force_two(queries, references, exclude)
    distance, found, second = nearest_two(queries, references, batch_size=4, exclude=exclude, chunk=chunk)
    assert torch.equal(found, index[:, 0]) and torch.allclose(distance, values[:, 0]) and torch.allclose(second, values[:, 1])


def test_images_are_embedded_a_chunk_at_a_time_with_the_features_applied(monkeypatch):
    import ganforge.metrics.scores.memorisation as memo

    g = torch.Generator().manual_seed(1)
    train = torch.randint(0, 256, (10_000, 1, 4, 4), dtype=torch.uint8, generator=g)
    samples = to_float(train[[5, 9_999]]) + 0.001
    held_out = torch.randint(0, 256, (300, 1, 4, 4), dtype=torch.uint8, generator=g)
    seen = []
    embed = memo.embed
    monkeypatch.setattr(memo, "embed", lambda images, features=None, batch_size=256: seen.append(len(images)) or embed(images, features, batch_size))
    check = copy_check(samples, train, held_out)
    assert check.index.tolist() == [5, 9_999] and check.distance.max() < 0.01  # found across the chunks
    assert max(seen) == memo.REFERENCE_CHUNK < len(train)  # never the whole training set at once
    assert sum(n for n in seen if n in (memo.REFERENCE_CHUNK, len(train) % memo.REFERENCE_CHUNK)) == 2 * len(train)  # samples, held-out
    doubled = copy_check(samples, train, held_out, features=lambda x: torch.cat([x, x], 1), space="doubled")
    assert torch.allclose(doubled.distance, check.distance * 2 ** 0.5) and torch.equal(doubled.index, check.index)
