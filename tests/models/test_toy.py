import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.models.packing import pack_samples
from ganforge.models.toy import FeatureStd, Maxout, ToyDiscriminator, ToyGenerator


def test_pacgan_default_sizes():
    g, d = ToyGenerator(), ToyDiscriminator()
    linears = [m.out_features for m in g.modules() if isinstance(m, torch.nn.Linear)]
    assert linears == [400, 400, 400, 400, 2] and sum(isinstance(m, torch.nn.BatchNorm1d) for m in g.modules()) == 4
    maxouts = [m for m in d.modules() if isinstance(m, Maxout)]
    assert [m.out_features for m in maxouts] == [200, 200, 200] and all(m.pieces == 5 for m in maxouts)
    assert g(torch.randn(7, 2)).shape == (7, 2) and d(torch.randn(7, 2)).shape == (7,)


def test_maxout_takes_the_largest_piece():
    layer = Maxout(1, 1, 3)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor([[1.0], [-1.0], [0.0]]))
        layer.linear.bias.copy_(torch.tensor([0.0, 0.0, 0.5]))
    x = torch.tensor([[2.0], [-3.0], [0.1]])
    assert torch.equal(layer(x)[:, 0], torch.tensor([2.0, 3.0, 0.5]))


@pytest.mark.parametrize("pack", [1, 2, 4])
def test_packing_joins_consecutive_samples(pack):
    d = ToyDiscriminator(dim=2, width=8, pack=pack)
    assert d.body[0].linear.in_features == 2 * pack
    x = torch.randn(8, 2)
    assert d(x).shape == (8 // pack,)
    packed = pack_samples(x, pack)
    assert packed.shape == (8 // pack, 2 * pack)
    assert torch.equal(packed[1], x[pack:2 * pack].flatten())
    assert d.probability_at(torch.randn(5, 2)).shape == (5,)


def test_packing_needs_a_divisible_batch_and_a_positive_pack():
    with pytest.raises(GanforgeError, match="divisible"):
        ToyDiscriminator(pack=4)(torch.randn(6, 2))
    with pytest.raises(GanforgeError, match="pack=0"):
        ToyDiscriminator(pack=0)


def test_minibatch_std_feature_sees_the_spread():
    layer = FeatureStd(4)
    same = layer(torch.ones(8, 3))
    assert same.shape == (8, 4) and same[:, -1].abs().max() < 1e-3
    spread = layer(torch.randn(8, 3) * 5)
    assert spread[:, -1].min() > 1
    d = ToyDiscriminator(width=8, minibatch_std=4)
    assert d(torch.randn(8, 2)).shape == (8,)


def test_players_rebuild_from_config():
    d = ToyDiscriminator(width=16, pack=2, minibatch_std=2)
    clone = type(d)(**d.config)
    clone.load_state_dict(d.state_dict())
    x = torch.randn(4, 2)
    assert torch.equal(d(x), clone(x))
