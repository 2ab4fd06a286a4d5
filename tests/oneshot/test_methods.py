"""The one-shot methods: gradients, samples, derived cells, determinism, data hygiene."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from nasrepro.bench.harness import get_splits
from nasrepro.bench.oneshot import METHODS, Supernet, get_method, scaled, search
from nasrepro.bench.oneshot._methods import lr_half_period_steps, most_probable_paths
from nasrepro.bench.oneshot._run import _gen
from nasrepro.spaces import ConfigError, get_space
from nasrepro.tables import get_protocol

SMOKE = get_protocol("synthetic-smoke")
CELL = get_space("cell")


def _method(name: str, seed: int = 0):
    cls = get_method(name)
    torch.manual_seed(seed)
    net = Supernet(CELL, SMOKE, 1, 4, 1)
    cfg = scaled(cls.config, SMOKE, 128, epochs=2)
    splits = get_splits(SMOKE)
    x, y = torch.as_tensor(splits.x_train), torch.as_tensor(splits.y_train)

    def evaluate(codes, batch):
        net.set_path(codes)
        with torch.no_grad():
            return 100.0 * float((net(batch[0]).argmax(1) == batch[1]).float().mean())

    m = cls(net, cfg, np.random.default_rng(0), _gen(seed, 2), evaluate)
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=0.9)
    return m, net, opt, (x[:64], y[:64]), (x[128:192], y[128:192])


@pytest.mark.parametrize("name", ["darts-v1", "darts-v2", "gdas", "setn"])
def test_the_architecture_step_moves_every_logit(name: str) -> None:
    m, net, opt, train, valid = _method(name)
    before = m.alpha.detach().clone()
    m.start_epoch(0)
    m.weight_mode()
    torch.nn.functional.cross_entropy(net(train[0]), train[1]).backward()
    opt.step()  # gives DARTS-V2 a momentum buffer to unroll with
    m.arch_step(valid, train, 0.01, opt)
    assert m.alpha.grad is not None
    # GDAS runs one op per edge, yet its straight-through gradient reaches every logit
    assert bool((m.alpha.grad != 0).all()), m.alpha.grad
    assert not torch.equal(m.alpha.detach(), before)


def _exact_unrolled_grad(m, net, opt, train, valid, lr):
    """d/d alpha of L_val(w - lr * (mu * v + grad L_train + wd * w), alpha), by autograd."""
    from torch.func import functional_call

    names = [n for n, _ in net.named_parameters()]
    ws = [p for _, p in net.named_parameters()]
    alpha = m.alpha
    net.set_weights(torch.softmax(alpha, -1))
    g = torch.autograd.grad(
        torch.nn.functional.cross_entropy(net(train[0]), train[1]), ws, create_graph=True
    )
    new = {}
    for n, p, gi in zip(names, ws, g, strict=True):
        buf = opt.state[p]["momentum_buffer"]
        new[n] = p - lr * (m.cfg.momentum * buf + gi + m.cfg.weight_decay * p)
    net.set_weights(torch.softmax(alpha, -1))
    out = functional_call(net, new, (valid[0],))
    return torch.autograd.grad(torch.nn.functional.cross_entropy(out, valid[1]), alpha)[0]


@pytest.fixture
def float64():
    prev = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(prev)


def test_darts_v2_is_the_exact_unrolled_gradient_in_the_limit(float64: None) -> None:
    """With a small finite-difference step (float64), DARTS-V2's architecture gradient is
    autograd's through the virtual step; with lr 0 it is DARTS-V1's. (At DARTS' own step
    0.01 the ReLU kinks of this small supernet make the approximation rough: cosine 0.75
    to the exact gradient on this batch.)"""
    grads = {}
    for name, lr in [("darts-v1", 0.05), ("darts-v2", 0.05), ("darts-v2", 0.0)]:
        m, net, opt, train, valid = _method(name)
        m.cfg = dataclasses.replace(m.cfg, unroll_r=1e-6)
        train, valid = (train[0].double(), train[1]), (valid[0].double(), valid[1])
        m.weight_mode()
        torch.nn.functional.cross_entropy(net(train[0]), train[1]).backward()
        opt.step()
        if name == "darts-v2" and lr:
            exact = _exact_unrolled_grad(m, net, opt, train, valid, lr)
        m.arch_step(valid, train, lr, opt)
        grads[name, lr] = m.alpha.grad.clone()
    assert torch.allclose(grads["darts-v2", 0.05], exact, rtol=1e-6, atol=1e-9)
    assert not torch.allclose(grads["darts-v1", 0.05], exact, rtol=0.05, atol=1e-4)
    assert torch.allclose(grads["darts-v2", 0.0], grads["darts-v1", 0.05], rtol=1e-9, atol=1e-12)


def test_the_controller_gets_a_policy_gradient() -> None:
    m, net, opt, train, valid = _method("enas")
    before = [p.detach().clone() for p in m.controller.parameters()]
    m.end_epoch(lambda: valid)
    grads = [p.grad for p in m.controller.parameters()]
    assert all(g is not None for g in grads)
    assert any(bool((g != 0).any()) for g in grads)
    after = list(m.controller.parameters())
    assert any(not torch.equal(a.detach(), b) for a, b in zip(after, before, strict=True))


def test_the_gumbel_sample_is_one_hot_in_the_forward_pass() -> None:
    m, *_ = _method("gdas")
    for epoch in (0, 1):
        m.start_epoch(epoch)
        for _ in range(20):
            h, idx = m.sample(grad=True)
            assert torch.equal(
                h.detach(), torch.nn.functional.one_hot(torch.tensor(idx), 5).float()
            )
            assert h.requires_grad
    assert m.tau == pytest.approx(0.1)  # last epoch of 2: the final temperature


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_derives_a_valid_cell_and_is_deterministic(name: str) -> None:
    a = search(name, SMOKE, seed=3, epochs=2)
    b = search(name, SMOKE, seed=3, epochs=2)
    arch = CELL.parse(a.arch)
    assert arch.to_string() == a.arch and len(a.history) == 2
    if name in ("darts-v1", "darts-v2", "gdas"):
        assert "none" not in arch.ops  # DARTS' rule: none is never the strongest op
    assert a.arch == b.arch
    for ra, rb in zip(a.history, b.history, strict=True):
        assert (ra.arch, ra.supernet_loss, ra.inherited_acc, ra.probabilities) == (
            rb.arch,
            rb.supernet_loss,
            rb.inherited_acc,
            rb.probabilities,
        )
    for pa, pb in zip(a.supernet.parameters(), b.supernet.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_a_search_records_its_thread_count_not_the_callers() -> None:
    """CPU bits depend on torch's thread count: the search's (1 by default) is recorded."""
    prev = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        r = search("rsps", SMOKE, seed=0, epochs=1)
    finally:
        torch.set_num_threads(prev)
    assert r.versions["torch_threads"] == "1" and r.versions["torch"] == torch.__version__


def test_another_seed_gives_another_search() -> None:
    a = search("rsps", SMOKE, seed=0, epochs=2)
    b = search("rsps", SMOKE, seed=1, epochs=2)
    assert [r.supernet_loss for r in a.history] != [r.supernet_loss for r in b.history]


def test_the_search_never_reads_the_valid_or_test_split() -> None:
    """Garbage in the protocol's valid and test splits changes nothing."""
    real = get_splits(SMOKE)
    nan = dataclasses.replace(
        real,
        x_valid=np.full_like(real.x_valid, np.nan),
        x_test=np.full_like(real.x_test, np.nan),
        y_valid=np.zeros_like(real.y_valid),
        y_test=np.zeros_like(real.y_test),
    )
    for name in ("darts-v1", "enas"):
        a = search(name, SMOKE, seed=0, epochs=1)
        b = search(name, SMOKE, seed=0, epochs=1, splits=nan)
        assert a.arch == b.arch
        assert a.history[0].supernet_loss == b.history[0].supernet_loss
        assert a.history[0].inherited_acc == b.history[0].inherited_acc


def test_scaling_keeps_nb201s_step_ratio() -> None:
    """Under cifar10-nb201 the scaled searches take NB201's weight steps."""
    p = get_protocol("cifar10-nb201")
    # NB201's configs/nas-benchmark/algos/*.config since its baselines' release (44a0d51)
    cases = [("darts-v1", 50), ("gdas", 250), ("rsps", 250), ("setn", 250), ("enas", 250)]
    for name, nb201_epochs in cases:
        cfg = scaled(get_method(name).config, p, p.n_train // 2)
        steps = cfg.epochs * (p.n_train // 2 // cfg.batch_size)
        nb201_steps = nb201_epochs * -(-25000 // get_method(name).config.batch_size)
        assert steps == pytest.approx(nb201_steps * 97 / 98, rel=0.03), name
        assert cfg.lr == get_method(name).config.lr  # cifar10-nb201's lr is NB201's 0.1
    tiny = get_protocol("mnist1d-tiny")
    assert scaled(get_method("darts-v1").config, tiny, 2000).epochs == 6
    assert scaled(get_method("darts-v1").config, tiny, 2000).lr == pytest.approx(0.0125)


def test_unknown_methods_and_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown one-shot method 'dart'.*darts-v1"):
        get_method("dart")
    with pytest.raises(ConfigError, match="epochs must be >= 1"):
        search("rsps", SMOKE, epochs=0)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            search("rsps", SMOKE, device="cuda")


def test_most_probable_paths_are_the_top_of_all_paths() -> None:
    """Against every one of the 5**6 paths, summed and sorted."""
    import itertools

    rng = np.random.default_rng(0)
    logp = np.log(rng.dirichlet(np.ones(5), size=6))
    every = sorted(
        itertools.product(range(5), repeat=6),
        key=lambda c: -sum(logp[e, k] for e, k in enumerate(c)),
    )
    assert most_probable_paths(logp, 100) == [tuple(c) for c in every[:100]]
    assert most_probable_paths(logp, 1) == [tuple(int(v) for v in logp.argmax(1))]
    assert len(most_probable_paths(logp, 20_000)) == 5**6


def test_setn_derives_from_the_most_probable_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """NB201's SETN scores its top-100 paths by probability, not 100 random samples."""
    m, net, opt, train, valid = _method("setn")
    assert m.alpha is not None
    with torch.no_grad():
        m.alpha.copy_(torch.randn(m.alpha.shape, generator=torch.Generator().manual_seed(3)))
    scored: list[tuple[int, ...]] = []
    monkeypatch.setattr(m, "evaluate", lambda c, b: scored.append(c) or float(len(scored) == 7))
    cell = m.derive(lambda: valid)
    logp = torch.log_softmax(m.alpha.detach().double(), -1).numpy()
    assert scored == most_probable_paths(logp, 100) and cell == scored[6]


@pytest.mark.parametrize(
    ("name", "clips"),
    [("darts-v1", 1), ("darts-v2", 1), ("gdas", 1), ("rsps", 1), ("setn", 0), ("enas", 1)],
)
def test_the_weight_step_clips_as_nb201s_script(
    name: str, clips: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NB201 clips the weight gradient at 5 in every search script but SETN's."""
    calls: list[float] = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *a, **k):  # type: ignore[no-untyped-def]
        calls.append(max_norm)
        return real(params, max_norm, *a, **k)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    r = search(name, SMOKE, seed=0, epochs=1)
    steps = len(get_splits(SMOKE).y_train) // 2 // r.config["batch_size"]
    ctrl = r.config["ctrl_steps"] if name == "enas" else 0  # ENAS also clips its controller
    assert len(calls) == clips * steps + ctrl and set(calls) <= {5.0}
    assert r.config["grad_clip"] == (5.0 if clips else None)


@pytest.mark.parametrize("name", ["darts-v1", "darts-v2", "gdas", "setn"])
def test_the_step_order_is_nb201s(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """DARTS-V2 takes each batch's architecture step first; the others the weight step."""
    cls = get_method(name)
    order: list[str] = []
    arch_step, weight_mode = cls.arch_step, cls.weight_mode

    def spy_arch(self, *a):  # type: ignore[no-untyped-def]
        order.append("arch")
        return arch_step(self, *a)

    def spy_weight(self):  # type: ignore[no-untyped-def]
        order.append("weight")
        return weight_mode(self)

    monkeypatch.setattr(cls, "arch_step", spy_arch)
    monkeypatch.setattr(cls, "weight_mode", spy_weight)
    search(name, SMOKE, seed=0, epochs=1)
    first = ["arch", "weight"] if name == "darts-v2" else ["weight", "arch"]
    assert order[:4] == first * 2 and len(order) % 2 == 0


def test_enas_lr_is_nb201s_cosine_wave() -> None:
    """ENAS.config's T_max = 10 of 250 epochs: 25 half-periods over any search length."""
    tiny = get_protocol("mnist1d-tiny")
    for name, half_periods in [("enas", 25), ("darts-v1", 1), ("gdas", 1), ("setn", 1)]:
        cfg = scaled(get_method(name).config, tiny, 2000)
        total = cfg.epochs * (2000 // cfg.batch_size)
        assert total / lr_half_period_steps(cfg, total) == pytest.approx(half_periods), name


def test_the_controller_is_initialised_as_nb201s() -> None:
    """uniform(-0.1, 0.1) for the start input, the first LSTM layer, the embedding and the
    head's weights; torch's defaults (wider, 1/sqrt(32)) for the second layer."""
    from nasrepro.bench.oneshot import METHODS
    from nasrepro.bench.oneshot._methods import Controller

    torch.manual_seed(0)
    c = Controller(6, 5, METHODS["enas"].config)
    ours = [c.start, c.lstm.weight_ih_l0, c.lstm.weight_hh_l0, c.embed.weight, c.head.weight]
    assert all(float(p.detach().abs().max()) <= 0.1 for p in ours)
    assert float(c.lstm.weight_hh_l1.detach().abs().max()) > 0.1  # type: ignore[union-attr]


def test_a_registered_method_is_found_and_duplicates_are_refused() -> None:
    """One-shot methods had no registry (a fixed dict): a user's method is registered
    like a strategy, enrolled in the method list, and a taken name is refused."""
    from nasrepro.bench.oneshot import METHODS, list_methods, register_method
    from nasrepro.bench.oneshot._methods import RSPS
    from nasrepro.spaces import NasreproError

    assert list_methods()[:6] == ["rsps", "darts-v1", "darts-v2", "gdas", "setn", "enas"]

    class Mine(RSPS):
        name = "my-rsps"

    try:
        assert register_method(Mine) is Mine and get_method("my-rsps") is Mine
        assert register_method(Mine) is Mine  # the same class again: not a conflict

        class Clash(RSPS):
            name = "gdas"

        with pytest.raises(NasreproError, match="'gdas' is already registered; choose"):
            register_method(Clash)
        with pytest.raises(TypeError, match="not a one-shot Method"):
            register_method(int)  # type: ignore[type-var]
        with pytest.raises(NasreproError, match="lowercase name"):
            register_method(type("Bad", (RSPS,), {"name": "Bad Name"}))
    finally:
        METHODS.pop("my-rsps", None)
