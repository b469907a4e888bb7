import pytest
import torch

from ganforge.games.image_pool import ImagePool


def images(values):
    """One 1x2x2 image per value, filled with that value."""
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 1, 2, 2).contiguous()


def ids(batch):
    return batch[:, 0, 0, 0].tolist()


def reference_query(pool: list, size: int, batch_ids: list, coins: list, slots: list) -> list:
    """The pool rule applied one image at a time on Python lists."""
    out = []
    for j, image in enumerate(batch_ids):
        if len(pool) < size:
            pool.append(image)
            out.append(image)
        elif coins[j] < 0.5:
            out.append(pool[slots[j]])
            pool[slots[j]] = image
        else:
            out.append(image)
    return out


def test_filling_pool_returns_the_new_images_and_stores_them():
    pool = ImagePool(4)
    out = pool.query(images([1, 2, 3]))
    assert ids(out) == [1, 2, 3]
    assert len(pool) == 3
    assert ids(pool.state_dict()["images"]) == [1, 2, 3]


def test_full_pool_follows_the_one_at_a_time_rule_with_the_global_rng():
    size = 5
    pool, mirror = ImagePool(size), []
    next_id = 0
    for batch_size in (3, 4, 6, 1, 8, 5):
        batch = list(range(next_id, next_id + batch_size))
        next_id += batch_size
        state = torch.get_rng_state()
        coins = torch.rand(batch_size).tolist()
        slots = torch.randint(0, size, (batch_size,)).tolist()
        torch.set_rng_state(state)
        expected = reference_query(mirror, size, batch, coins, slots)
        assert ids(pool.query(images(batch))) == expected
        assert ids(pool.state_dict()["images"]) == mirror


def test_about_half_of_the_images_come_from_history_once_full():
    torch.manual_seed(1)
    pool = ImagePool(50)
    pool.query(images(list(range(50))))
    new = list(range(1000, 3000))
    out = ids(pool.query(images(new)))
    swapped = sum(1 for o, n in zip(out, new) if o != n)
    assert 900 < swapped < 1100
    assert len(pool) == 50


def test_same_batch_swap_returns_the_image_stored_earlier_in_that_batch():
    pool = ImagePool(1)
    pool.query(images([7]))
    torch.manual_seed(0)
    # find a seed where both of a pair of images swap (slot is always 0 for a pool of one)
    for seed in range(100):
        torch.manual_seed(seed)
        if all(c < 0.5 for c in torch.rand(2).tolist()):
            break
    torch.manual_seed(seed)
    assert ids(pool.query(images([8, 9]))) == [7, 8]
    assert ids(pool.state_dict()["images"]) == [9]


def test_size_zero_passes_images_through():
    pool = ImagePool(0)
    x = images([1, 2])
    assert pool.query(x) is not None and ids(pool.query(x)) == [1, 2]
    assert len(pool) == 0 and pool.state_dict()["images"].numel() == 0


def test_state_round_trip_repeats_the_same_future():
    torch.manual_seed(3)
    pool = ImagePool(6)
    for start in range(0, 20, 4):
        pool.query(images(list(range(start, start + 4))))
    restored = ImagePool(6)
    restored.load_state_dict(pool.state_dict())
    assert len(restored) == 6
    state = torch.get_rng_state()
    a = ids(pool.query(images([100, 101, 102])))
    torch.set_rng_state(state)
    b = ids(restored.query(images([100, 101, 102])))
    assert a == b


def test_pool_does_not_keep_the_autograd_graph():
    x = images([1, 2]).requires_grad_(True) * 2
    out = ImagePool(3).query(x)
    assert not out.requires_grad


def test_negative_size_is_refused():
    with pytest.raises(ValueError):
        ImagePool(-1)
