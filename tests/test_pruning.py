"""Masks and trace capture on tiny models (no data set needed)."""

import numpy as np
import pytest
import torch
from torch import nn

from accelsim.training.capture import capture_layers
from accelsim.training.models import maskable_layers
from accelsim.training.pruning import (
    ActivationMask,
    attach_weight_masks,
    calibrate_static_thresholds,
    install_activation_masks,
    prune_to_density,
    raw_weight,
    rescale_dropout,
    weight_mask,
)


class Residual(nn.Module):
    """conv -> in-place ReLU -> (shared conv twice) + residual add -> linear."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(2, 4, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.shared = nn.Conv2d(4, 4, 3, padding=1)
        self.head = nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        x = self.relu(self.stem(x))
        y = self.relu(self.shared(x))
        y = self.relu(self.shared(y) + x)  # the shared module runs twice
        return self.head(y.flatten(1))


def manual_inputs(model, x):
    """What each layer multiplies, computed by hand."""
    a = torch.relu(model.stem(x))
    b = torch.relu(model.shared(a))
    c = torch.relu(model.shared(b) + a)
    return [x, a, b, c.flatten(1)]


def test_hooks_capture_what_each_layer_multiplies():
    torch.manual_seed(0)
    model = Residual().eval()
    x = torch.randn(3, 2, 6, 6)
    layers = capture_layers(model, x)
    assert [l.name for l in layers] == ["stem", "shared", "shared#2", "head"]
    with torch.no_grad():
        expected = manual_inputs(model, x)
    for layer, inputs in zip(layers, expected):
        np.testing.assert_allclose(layer.activations, inputs.numpy(), rtol=1e-6, atol=1e-6)
    assert layers[1].weight.tobytes() == layers[2].weight.tobytes()
    assert (layers[1].padding, layers[1].stride) == ((1, 1), (1, 1))


def test_hooks_see_masked_weights_and_activations():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(inplace=True), nn.Linear(30, 5))
    attach_weight_masks(model)
    prune_to_density(model[0], 0.25)
    install_activation_masks(model, {"2": {"rate": 0.1}})
    layers = capture_layers(model, torch.randn(4, 20))
    assert np.count_nonzero(layers[0].weight) == round(0.25 * 600)
    assert (np.count_nonzero(layers[1].activations, axis=1) <= 3).all()


@pytest.mark.parametrize("shape,rate", [((5, 40), 0.1), ((3, 4, 5, 5), 0.3), ((2, 7), 1 / 7)])
def test_topk_mask_keeps_exactly_k_per_sample(shape, rate):
    x = torch.randn(shape)
    kept = ActivationMask(rate).winners(x).reshape(shape[0], -1)
    k = max(1, round(rate * kept.shape[1]))
    assert (kept.sum(1) == k).all()
    # the winners are the k largest magnitudes
    flat = x.reshape(shape[0], -1).abs()
    assert torch.all((flat * kept).max(1).values == flat.max(1).values)
    smallest_kept = torch.where(kept.bool(), flat, torch.inf).min(1).values
    largest_dropped = torch.where(kept.bool(), -torch.inf, flat).max(1).values
    assert (smallest_kept >= largest_dropped).all()


def test_threshold_prediction_and_static_masks():
    x = torch.rand(4, 1000)
    mask = ActivationMask(0.1, mode="threshold", epsilon=0.25)
    assert (mask.winners(x, training=True).sum(1) == 100).all()  # training: exact top-k
    kept = mask.winners(x, training=False).sum(1)
    assert ((kept > 50) & (kept < 200)).all()  # about 10 % from a 25 % sample
    static = ActivationMask(1.0, mode="static", threshold=0.9).winners(x)
    assert torch.equal(static.bool(), x > 0.9)


def test_masked_backward_gives_no_gradient_to_pruned_weights_or_masked_activations():
    torch.manual_seed(2)
    # LeakyReLU: no natural zeros, so a zero after the mask means "not a winner".
    model = nn.Sequential(nn.Linear(10, 8), nn.LeakyReLU(0.1), nn.Linear(8, 4))
    attach_weight_masks(model)
    prune_to_density(model[0], 0.3)
    prune_to_density(model[2], 0.5)
    install_activation_masks(model, {"2": {"rate": 0.25}})
    seen = {}
    model[2].register_forward_pre_hook(lambda m, a: seen.update(masked=a[0]))
    hidden = {}

    def keep_grad(module, args, out):
        out.retain_grad()
        hidden["relu"] = out
    model[1].register_forward_hook(keep_grad)
    model(torch.randn(6, 10)).sum().backward()
    for index in (0, 2):
        grad = raw_weight(model[index]).grad
        assert torch.all(grad[weight_mask(model[index]) == 0] == 0)
        assert grad[weight_mask(model[index]) == 1].abs().sum() > 0
    masked_out = seen["masked"] == 0
    assert masked_out.sum() == 6 * 6  # 2 winners of 8 per sample
    assert torch.all(hidden["relu"].grad[masked_out] == 0)
    assert torch.all(hidden["relu"].grad[~masked_out] != 0)


def test_dropout_rescaled_after_masks():
    model = nn.Sequential(nn.Linear(5, 5), nn.ReLU(), nn.Dropout(0.5), nn.Linear(5, 2))
    applied = rescale_dropout(model, {"3": 0.25}, 0.5)
    assert applied == {"3": pytest.approx(0.25)} and model[2].p == pytest.approx(0.25)


def test_static_thresholds_keep_the_rate_on_average():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(10, 50), nn.ReLU(), nn.Linear(50, 3))
    thresholds = calibrate_static_thresholds(model, torch.randn(400, 10), {"2": 0.2})
    install_activation_masks(model, {"2": {"rate": 0.2, "mode": "static",
                                           "threshold": thresholds["2"]}})
    layers = capture_layers(model, torch.randn(400, 10))
    assert abs(np.count_nonzero(layers[1].activations) / layers[1].activations.size - 0.2) < 0.03


def test_maskable_layers_in_network_order():
    from accelsim.training.models import build_model
    names = [n for n, _ in maskable_layers(build_model("lenet4"))]
    assert names == ["conv1", "conv2", "fc1", "fc2"]
