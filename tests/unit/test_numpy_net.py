"""Our sites train net.py's CNN in numpy (numpy_net.py), so their job processes carry no torch:
it must be the same network as torch's, to float precision: forward, loss, every gradient, the
Adam steps, and a state dict either side loads."""

import sys

import numpy as np
import pytest

from medperf_lite.files import FIXTURES

torch = pytest.importorskip("torch")
CUSTOM = FIXTURES / "training_config" / "jobs" / "chestxray" / "chestxray" / "custom"


@pytest.fixture(scope="module")
def nets():
    sys.path.insert(0, str(CUSTOM))
    try:
        import net
        import numpy_net
    finally:
        sys.path.remove(str(CUSTOM))
    return net, numpy_net


def batch(seed=1, n=32):
    x = np.random.default_rng(seed).normal(size=(n, 1, 28, 28)).astype(np.float32)
    x[:, :, :6, :] = 0  # flat regions: ties in the max-pools, after the ReLUs
    return x, np.random.default_rng(seed + 1).integers(0, 14, n)


def test_same_loss_and_gradients_as_torch(nets):
    net, numpy_net = nets
    torch.manual_seed(0)
    theirs, ours = net.Net(), numpy_net.Net()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x, y = batch()
    loss, grads = ours.loss_and_grads(x, y)
    expected = torch.nn.CrossEntropyLoss()(theirs(torch.tensor(x)), torch.tensor(y))
    expected.backward()
    assert loss == pytest.approx(expected.item(), abs=1e-5)
    assert set(grads) == {k for k, _ in theirs.named_parameters()}
    for name, param in theirs.named_parameters():
        np.testing.assert_allclose(grads[name], param.grad.numpy(), atol=1e-6, err_msg=name)


def test_same_adam_steps_and_state_dicts_either_way(nets):
    net, numpy_net = nets
    torch.manual_seed(0)
    theirs, ours = net.Net(), numpy_net.Net()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    adam_theirs, adam_ours = torch.optim.Adam(theirs.parameters(), lr=0.003), numpy_net.Adam(ours.params, 0.003)
    for seed in range(4):
        x, y = batch(seed)
        adam_theirs.zero_grad()
        torch.nn.CrossEntropyLoss()(theirs(torch.tensor(x)), torch.tensor(y)).backward()
        adam_theirs.step()
        adam_ours.step(ours.loss_and_grads(x, y)[1])
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.params[name], value.numpy(), atol=1e-5, err_msg=name)
    theirs.load_state_dict({k: torch.as_tensor(v) for k, v in ours.state_dict().items()})  # the server's side
    x, _ = batch(9)
    np.testing.assert_allclose(ours.forward(x), theirs(torch.tensor(x)).detach().numpy(), atol=1e-5)


def test_a_wrong_shape_is_refused(nets):
    _, numpy_net = nets
    params = numpy_net.Net().state_dict()
    params["classifier.3.weight"] = np.zeros((10, 32), np.float32)
    with pytest.raises(ValueError, match=r"classifier.3.weight has shape \(10, 32\), not \(14, 32\)"):
        numpy_net.Net().load_state_dict(params)
