"""The one-shot methods: RSPS, DARTS-V1/V2, GDAS, SETN and ENAS on one :class:`Supernet`.

Every method alternates, batch by batch, a weight step on the weight-train half and
(where it has architecture parameters) an architecture step on the arch-valid half,
in the order of NAS-Bench-201's search scripts (``exps/NAS-Bench-201-algos`` of
D-X-Y/AutoDL-Projects): the weight step first for DARTS-V1, GDAS and SETN, the
architecture step first for DARTS-V2 (as the original DARTS does), whose virtual step
then starts from the weights and momentum before this batch's weight step. What the
methods differ in is how a forward pass picks its ops and how a cell is derived.

Hyperparameters come from NAS-Bench-201's configs (``configs/nas-benchmark/algos/*.config``
and the search scripts of D-X-Y/AutoDL-Projects; Dong & Yang 2020, Appendix), and are
adapted to the protocol in two ways only (:func:`scaled`):

* **Length.** NAS-Bench-201 searched on CIFAR-10 halves of 25k images for a fixed
  number of epochs (DARTS 50; GDAS, RSPS, SETN and ENAS 250, as its configs stand since
  the commit that released its baselines, 44a0d51 of 2019-12-24; earlier versions had
  GDAS 240 and ENAS 310) against a stand-alone training of 200 epochs at batch 256. We
  keep the ratio of search weight steps to stand-alone training steps (DARTS 1.0,
  GDAS/RSPS/SETN 5.0, ENAS 2.5) and convert it to epochs over the protocol's
  weight-train half. Under ``cifar10-nb201`` this gives NB201's step counts.
* **Learning rate.** NB201's search lr (0.025, to 0.001; ENAS 0.05 to 0.0005) is
  relative to its stand-alone lr 0.1; both ends are multiplied by ``protocol.lr / 0.1``.
  The cosine follows search progress as NB201's does (for ENAS a wave with a
  half-period of 10 of its 250 epochs, ``ENAS.config``'s ``T_max``), but is updated
  at every weight step, where NB201's scheduler holds it for an epoch.

Everything else (batch sizes, momentum, weight decay, gradient clipping, the arch
optimizers, GDAS' temperature, ENAS' controller) is as NB201 configured it; the
docstrings of :class:`ENAS` and :class:`SETN` name where they still differ.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar, TypeVar, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nasrepro.bench.oneshot._supernet import SuperCell, Supernet
from nasrepro.spaces import Op
from nasrepro.spaces._errors import ConfigError
from nasrepro.tables import Protocol

__all__ = [
    "MethodConfig",
    "METHODS",
    "Method",
    "get_method",
    "register_method",
    "list_methods",
    "scaled",
    "Controller",
    "most_probable_paths",
    "run_config",
    "lr_half_period_steps",
]

#: NAS-Bench-201's stand-alone training: 200 epochs of 25,000 images at batch 256.
NB201_STANDALONE_STEPS = 200 * math.ceil(25000 / 256)
#: NAS-Bench-201's stand-alone learning rate (the search lrs are relative to it).
NB201_STANDALONE_LR = 0.1


@dataclass(frozen=True)
class MethodConfig:
    """A method's hyperparameters, as NAS-Bench-201 set them (before :func:`scaled`).

    Attributes:
        nb201_epochs: Search epochs in NB201 (over 25k images at ``batch_size``).
        epochs: Search epochs under this protocol (set by :func:`scaled`).
        batch_size, lr, eta_min, weight_decay, momentum, nesterov: The weight optimizer
            (SGD, cosine from ``lr`` to ``eta_min``).
        lr_half_period: NB201 epochs of one half-period of the cosine (``T_max`` of the
            config; ENAS' 10, after which the lr rises again), or ``None`` for one
            half-period over the whole search (NB201's default, ``T_max = epochs``).
        grad_clip: Gradient-norm clip of the weight step, or ``None``: DARTS' 5, which
            NB201's DARTS, GDAS, RSPS and ENAS scripts keep and its SETN script omits.
        arch_lr, arch_betas, arch_weight_decay: Adam on the architecture logits
            (DARTS: 3e-4, (0.5, 0.999), 1e-3; NB201 uses them for DARTS, GDAS and SETN).
        select_num: Candidates evaluated to derive a cell (RSPS, SETN, ENAS: NB201's 100).
        tau_max, tau_min: GDAS' Gumbel-softmax temperature, decayed linearly (10 to 0.1).
        unroll_r: DARTS-V2's finite-difference step, as a norm in weight space (DARTS' 0.01).
        ctrl_*: ENAS' controller (NB201's ENAS script and ``Controller`` defaults;
            ``ctrl_grad_clip`` is the script's clip of the controller gradient, 5).
    """

    nb201_epochs: int
    batch_size: int = 64
    lr: float = 0.025
    eta_min: float = 0.001
    weight_decay: float = 5e-4
    momentum: float = 0.9
    nesterov: bool = True
    lr_half_period: int | None = None
    grad_clip: float | None = 5.0
    arch_lr: float = 3e-4
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = 1e-3
    select_num: int = 100
    tau_max: float = 10.0
    tau_min: float = 0.1
    ctrl_lr: float = 0.001
    ctrl_betas: tuple[float, float] = (0.0, 0.999)
    ctrl_eps: float = 0.001
    ctrl_entropy_weight: float = 1e-4
    ctrl_baseline_decay: float = 0.99
    ctrl_steps: int = 50
    ctrl_aggregate: int = 20
    ctrl_hidden: int = 32
    ctrl_layers: int = 2
    ctrl_tanh: float = 2.5
    ctrl_temperature: float = 5.0
    ctrl_grad_clip: float = 5.0
    unroll_r: float = 0.01
    epochs: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def step_ratio(self) -> float:
        """NB201's search weight steps per stand-alone training step."""
        return self.nb201_epochs * math.ceil(25000 / self.batch_size) / NB201_STANDALONE_STEPS


def scaled(
    cfg: MethodConfig, protocol: Protocol, n_weight: int, epochs: int | None = None
) -> MethodConfig:
    """``cfg`` adapted to ``protocol`` with ``n_weight`` weight-train examples (see the module doc).

    Args:
        epochs: Override the scaled number of search epochs.
    """
    bs = min(cfg.batch_size, n_weight)
    per_epoch = max(1, n_weight // bs)
    standalone = protocol.epochs * (protocol.n_train // protocol.batch_size)
    if epochs is None:
        epochs = max(1, round(cfg.step_ratio * standalone / per_epoch))
    if epochs < 1:
        raise ConfigError(f"search epochs must be >= 1, got {epochs}")
    f = protocol.lr / NB201_STANDALONE_LR
    # ENAS: NB201 trains the controller 50 steps per epoch of 196 weight steps; keep the ratio.
    ctrl_steps = max(1, round(cfg.ctrl_steps * per_epoch / math.ceil(25000 / cfg.batch_size)))
    return replace(
        cfg,
        batch_size=bs,
        epochs=epochs,
        lr=cfg.lr * f,
        eta_min=cfg.eta_min * f,
        ctrl_steps=ctrl_steps,
    )


def lr_half_period_steps(cfg: MethodConfig, total: int) -> float:
    """Weight steps of one half-period of the cosine, for a search of ``total`` steps.

    The same fraction of the search as NB201's ``T_max`` is of its epochs, so the lr
    traces NB201's curve against search progress.
    """
    if cfg.lr_half_period is None:
        return float(total)
    return total * cfg.lr_half_period / cfg.nb201_epochs


def run_config(cls: type[Method], cfg: MethodConfig) -> dict[str, Any]:
    """What a search records of its configuration (``cfg`` as :func:`scaled` made it).

    A resumed one-shot leaderboard reuses a stored run only where this is unchanged.
    """
    config = {k: v for k, v in asdict(cfg).items() if k != "extra"}
    config.update(
        step_ratio=round(cls.config.step_ratio, 4),
        cite=cls.cite,
        derive_rule=cls.derive_rule,
        arch_first=cls.arch_first,
    )
    return config


class Controller(nn.Module):
    """ENAS' LSTM controller: one categorical choice per edge, fed back as the next input.

    Two LSTM layers of 32 units; logits are ``tanh_constant * tanh(logits / temperature)``
    (2.5 and 5.0), as NAS-Bench-201's ENAS controller (after Pham et al. 2018), with its
    initialisation: uniform(-0.1, 0.1) for the start input, the first LSTM layer's
    weights, the embedding and the output weights; torch's defaults for the rest.
    """

    def __init__(self, n_edges: int, n_ops: int, cfg: MethodConfig) -> None:
        super().__init__()
        h = cfg.ctrl_hidden
        self.n_edges, self.n_ops = n_edges, n_ops
        self.tanh, self.temperature = cfg.ctrl_tanh, cfg.ctrl_temperature
        self.start = nn.Parameter(torch.empty(1, 1, h))
        self.lstm = nn.LSTM(h, h, num_layers=cfg.ctrl_layers)
        self.embed = nn.Embedding(n_ops, h)
        self.head = nn.Linear(h, n_ops)
        firsts: list[torch.Tensor] = [
            self.start,
            self.lstm.get_parameter("weight_ih_l0"),
            self.lstm.get_parameter("weight_hh_l0"),
            self.embed.weight,
            self.head.weight,
        ]
        for p in firsts:
            nn.init.uniform_(p, -0.1, 0.1)

    def forward(self, gen: torch.Generator) -> tuple[list[int], torch.Tensor, torch.Tensor]:
        """Sample a path: ``(codes, sum of log-probs, sum of entropies)``."""
        inp, state = self.start, None
        codes, logps, ents = [], [], []
        for _ in range(self.n_edges):
            out, state = self.lstm(inp, state)
            logits = self.tanh * torch.tanh(self.head(out[0, 0]) / self.temperature)
            logp = F.log_softmax(logits, -1)
            k = int(torch.multinomial(logp.detach().exp(), 1, generator=gen).item())
            codes.append(k)
            logps.append(logp[k])
            ents.append(-(logp.exp() * logp).sum())
            inp = self.embed(torch.tensor([[k]]))
        return codes, torch.stack(logps).sum(), torch.stack(ents).sum()

    @torch.no_grad()
    def marginals(self, gen: torch.Generator, n: int = 100) -> np.ndarray:
        """Op frequencies per edge over ``n`` samples, ``(n_edges, n_ops)``."""
        counts = np.zeros((self.n_edges, self.n_ops))
        for _ in range(n):
            for e, k in enumerate(self(gen)[0]):
                counts[e, k] += 1
        return counts / n


Batch = tuple[torch.Tensor, torch.Tensor]


class Method(abc.ABC):
    """A one-shot method's search state and its steps.

    A subclass sets :attr:`name`, :attr:`config`, :attr:`cite`, :attr:`derive_rule` (and
    :attr:`arch_first` where the architecture step comes first), and
    implements :meth:`weight_mode` (how a weight step's forward pass picks ops) and,
    where it has architecture parameters, :meth:`arch_step` and :meth:`probabilities`.
    """

    name: ClassVar[str]
    config: ClassVar[MethodConfig]
    cite: ClassVar[str]
    derive_rule: ClassVar[str]
    has_arch: ClassVar[bool] = True
    #: Whether a batch's architecture step comes before its weight step (NB201's order).
    arch_first: ClassVar[bool] = False

    def __init__(
        self,
        net: Supernet,
        cfg: MethodConfig,
        rng: np.random.Generator,
        gen: torch.Generator,
        evaluate: Callable[[tuple[int, ...], Batch], float],
    ) -> None:
        self.net, self.cfg, self.rng, self.gen = net, cfg, rng, gen
        self.evaluate = evaluate
        self.epoch = 0
        self.device = next(net.parameters()).device
        first = cast(SuperCell, net.net.cells[_first_cell(net)])
        self.none_index = [k for k, op in enumerate(first.edge_ops[0]) if op is Op.NONE]
        self.alpha: nn.Parameter | None = None
        self.arch_opt: torch.optim.Optimizer | None = None
        if self.has_arch:
            # NB201: 1e-3 * N(0, 1) logits, one row per edge.
            init = 1e-3 * torch.randn(net.n_edges, net.n_ops, generator=gen)  # CPU stream
            self.alpha = nn.Parameter(init.to(self.device))
            self.arch_opt = torch.optim.Adam(
                [self.alpha],
                lr=cfg.arch_lr,
                betas=cfg.arch_betas,
                weight_decay=cfg.arch_weight_decay,
            )

    # -- hooks ---------------------------------------------------------------------------
    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @abc.abstractmethod
    def weight_mode(self) -> None:
        """Set the supernet's forward mode for the next weight step."""

    def arch_step(self, valid: Batch, train: Batch, lr: float, opt: torch.optim.SGD) -> None:
        """One update of the architecture (nothing for methods without one)."""
        return None

    def end_epoch(self, next_valid: Callable[[], Batch]) -> None:
        """After an epoch's weight steps (ENAS trains its controller here)."""
        return None

    @abc.abstractmethod
    def derive(self, next_valid: Callable[[], Batch]) -> tuple[int, ...]:
        """The cell the search has found so far, by the method's own rule."""

    def probabilities(self) -> np.ndarray | None:
        """The architecture distribution ``(n_edges, n_ops)``, or ``None``."""
        if self.alpha is None:
            return None
        return torch.softmax(self.alpha.detach(), -1).cpu().numpy().astype(np.float64)

    # -- shared pieces -------------------------------------------------------------------
    def uniform_path(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.rng.integers(0, self.net.n_ops, self.net.n_edges))

    def argmax(self, exclude_none: bool) -> tuple[int, ...]:
        assert self.alpha is not None
        a = self.alpha.detach().cpu().clone()
        if exclude_none and len(self.none_index) < a.shape[1]:
            a[:, self.none_index] = -math.inf
        return tuple(int(v) for v in a.argmax(-1))

    def best_of(
        self, candidates: list[tuple[int, ...]], next_valid: Callable[[], Batch]
    ) -> tuple[int, ...]:
        """The candidate with the best accuracy, each on its own arch-valid batch (NB201)."""
        scores = [self.evaluate(c, next_valid()) for c in candidates]
        return candidates[int(np.argmax(scores))]

    def _arch_loss_step(self, valid: Batch, set_mode: Callable[[], None]) -> None:
        assert self.arch_opt is not None
        self.arch_opt.zero_grad(set_to_none=True)
        set_mode()
        F.cross_entropy(self.net(valid[0]), valid[1]).backward()
        self.arch_opt.step()


def most_probable_paths(logp: np.ndarray, k: int) -> list[tuple[int, ...]]:
    """The ``k`` paths with the highest total log-probability, most probable first.

    ``logp`` is ``(n_edges, n_ops)``, each row an edge's log-probabilities; a path's
    log-probability is the sum over its edges. Built edge by edge, keeping the ``k``
    best prefixes (exact: a prefix of a top-``k`` path is a top-``k`` prefix), so it
    never enumerates the ``n_ops ** n_edges`` paths. Ties keep the order of the codes.
    """
    paths: list[tuple[tuple[int, ...], float]] = [((), 0.0)]
    for row in logp:
        grown = [(p + (j,), s + float(v)) for p, s in paths for j, v in enumerate(row)]
        grown.sort(key=lambda t: -t[1])
        paths = grown[:k]
    return [p for p, _ in paths]


def _first_cell(net: Supernet) -> int:
    return next(i for i, c in enumerate(net.net.cells) if isinstance(c, SuperCell))


class RSPS(Method):
    """Random search with parameter sharing (Li & Talwalkar 2019, "Random Search and
    Reproducibility for NAS", UAI).

    Every weight step trains one uniformly sampled path. The cell is the best of
    ``select_num`` = 100 uniform samples, each scored on one arch-valid batch, as in
    NAS-Bench-201's RSPS (``RANDOM.config``: 250 epochs, SGD lr 0.025 cosine to 0.001,
    batch 64, weight decay 5e-4). ``none`` is a candidate op like any other.
    """

    name = "rsps"
    config = MethodConfig(nb201_epochs=250)
    cite = "Li & Talwalkar 2019; NAS-Bench-201 RANDOM.config"
    derive_rule = (
        "best of 100 uniform samples by shared-weight accuracy on one arch-valid batch each"
    )
    has_arch = False

    def weight_mode(self) -> None:
        self.net.set_path(self.uniform_path())

    def derive(self, next_valid: Callable[[], Batch]) -> tuple[int, ...]:
        return self.best_of([self.uniform_path() for _ in range(self.cfg.select_num)], next_valid)


class DARTSV1(Method):
    """DARTS, first order (Liu, Simonyan & Yang 2019, "DARTS: Differentiable Architecture
    Search", ICLR).

    Weight steps run the softmax-weighted sum of all ops; architecture steps minimise
    the arch-valid loss of the same relaxation with Adam (lr 3e-4, betas (0.5, 0.999),
    weight decay 1e-3). NB201's ``DARTS.config``: 50 epochs, SGD lr 0.025 cosine to
    0.001, batch 64, weight decay 5e-4, gradient clip 5. The cell takes each edge's
    strongest op with ``none`` excluded, DARTS' rule (its §2.4); NB201's reimplementation
    admits ``none``, which is one reason its DARTS cells are all-skip or empty.
    """

    name = "darts-v1"
    config = MethodConfig(nb201_epochs=50)
    cite = "Liu et al. 2019 (first order); NAS-Bench-201 DARTS.config"
    derive_rule = "per-edge argmax of the logits, none excluded (DARTS §2.4)"

    def weight_mode(self) -> None:
        assert self.alpha is not None
        self.net.set_weights(torch.softmax(self.alpha.detach(), -1))

    def arch_step(self, valid: Batch, train: Batch, lr: float, opt: torch.optim.SGD) -> None:
        assert self.alpha is not None
        alpha = self.alpha
        self._arch_loss_step(valid, lambda: self.net.set_weights(torch.softmax(alpha, -1)))

    def derive(self, next_valid: Callable[[], Batch]) -> tuple[int, ...]:
        return self.argmax(exclude_none=True)


class DARTSV2(DARTSV1):
    """DARTS, second order (Liu et al. 2019, §2.3): the architecture gradient is taken at
    the weights after one virtual SGD step, ``w' = w - xi * (momentum * v + grad + wd * w)``
    with ``xi`` the current weight lr, and the second-order term is the finite difference
    of the training-loss gradient at ``w +- eps * grad_w' L_val`` with
    ``eps = 0.01 / ||grad_w' L_val||``, DARTS' own approximation. Each batch's
    architecture step comes before its weight step, as in DARTS and NB201's DARTS-V2
    script. Same configuration and derivation as :class:`DARTSV1`.
    """

    name = "darts-v2"
    config = MethodConfig(nb201_epochs=50)
    cite = "Liu et al. 2019 (second order); NAS-Bench-201 DARTS.config"
    arch_first = True

    def arch_step(self, valid: Batch, train: Batch, lr: float, opt: torch.optim.SGD) -> None:
        assert self.alpha is not None and self.arch_opt is not None
        net, alpha, cfg = self.net, self.alpha, self.cfg
        ws = [p for p in net.parameters() if p.requires_grad]

        def loss(batch: Batch, detach: bool) -> torch.Tensor:
            a = torch.softmax(alpha.detach() if detach else alpha, -1)
            net.set_weights(a)
            return F.cross_entropy(net(batch[0]), batch[1])

        backup = [p.detach().clone() for p in ws]
        g_train = torch.autograd.grad(loss(train, detach=True), ws)
        with torch.no_grad():
            for p, g in zip(ws, g_train, strict=True):
                buf = opt.state.get(p, {}).get("momentum_buffer")
                step = g + cfg.weight_decay * p
                if buf is not None:
                    step = step + cfg.momentum * buf
                p.sub_(lr * step)
        l_val = loss(valid, detach=False)
        grads = torch.autograd.grad(l_val, [alpha, *ws])
        d_alpha, d_w = grads[0], grads[1:]
        norm = torch.sqrt(sum((g * g).sum() for g in d_w))  # type: ignore[arg-type]
        eps = cfg.unroll_r / max(float(norm), 1e-12)

        def grad_alpha_at(sign: float) -> torch.Tensor:
            with torch.no_grad():
                for p, b, g in zip(ws, backup, d_w, strict=True):
                    p.copy_(b + sign * eps * g)
            a = torch.softmax(alpha, -1)
            net.set_weights(a)
            return torch.autograd.grad(F.cross_entropy(net(train[0]), train[1]), alpha)[0]

        g_pos, g_neg = grad_alpha_at(1.0), grad_alpha_at(-1.0)
        with torch.no_grad():
            for p, b in zip(ws, backup, strict=True):
                p.copy_(b)
        self.arch_opt.zero_grad(set_to_none=True)
        alpha.grad = d_alpha - lr * (g_pos - g_neg) / (2 * eps)
        self.arch_opt.step()


class GDAS(Method):
    """GDAS (Dong & Yang 2019, "Searching for a Robust Neural Architecture in Four GPU
    Hours", CVPR).

    Every forward pass draws a Gumbel-softmax sample per edge; the forward pass uses its
    hard one-hot (only the chosen op runs) and the backward pass the soft probabilities
    (straight-through). The temperature decays linearly from 10 to 0.1 over the search
    (NB201's GDAS script); both the weight and the architecture step sample. NB201's
    ``GDAS.config``: 250 epochs, SGD lr 0.025 cosine to 0.001, batch 64; Adam on the
    logits as DARTS. The cell takes each edge's strongest logit with ``none`` excluded,
    following DARTS' rule, which GDAS inherits; NB201's reimplementation admits ``none``.
    """

    name = "gdas"
    config = MethodConfig(nb201_epochs=250)
    cite = "Dong & Yang 2019 (CVPR); NAS-Bench-201 GDAS.config"
    derive_rule = "per-edge argmax of the logits, none excluded (DARTS' rule)"

    @property
    def tau(self) -> float:
        n = max(1, self.cfg.epochs - 1)
        return self.cfg.tau_max - (self.cfg.tau_max - self.cfg.tau_min) * min(self.epoch, n) / n

    def sample(self, grad: bool) -> tuple[torch.Tensor, list[int]]:
        assert self.alpha is not None
        a = self.alpha if grad else self.alpha.detach()
        while True:
            u = torch.rand(a.shape, generator=self.gen).clamp_(1e-20, 1.0).to(a.device)
            g = -torch.log(-torch.log(u))
            probs = torch.softmax((torch.log_softmax(a, -1) + g) / self.tau, -1)
            if torch.isfinite(probs).all():
                break
        index = probs.detach().argmax(-1)
        one_hot = F.one_hot(index, a.shape[1]).to(probs.dtype)
        # exactly one-hot in the forward pass ((p - p) is 0), the soft gradient backward
        return one_hot + (probs - probs.detach()), [int(v) for v in index]

    def weight_mode(self) -> None:
        h, idx = self.sample(grad=False)
        self.net.set_hard(h, idx)

    def arch_step(self, valid: Batch, train: Batch, lr: float, opt: torch.optim.SGD) -> None:
        def mode() -> None:
            h, idx = self.sample(grad=True)
            self.net.set_hard(h, idx)

        self._arch_loss_step(valid, mode)

    def derive(self, next_valid: Callable[[], Batch]) -> tuple[int, ...]:
        return self.argmax(exclude_none=True)


class SETN(Method):
    """SETN (Dong & Yang 2019, "One-Shot Neural Architecture Search via Self-Evaluated
    Template Network", ICCV).

    Weight steps train one uniformly sampled path; architecture steps train the
    softmax-weighted relaxation on arch-valid batches (NB201's SETN script: ``urs`` then
    ``joint``; Adam as DARTS; no gradient clip on the weight step, unlike NB201's other
    scripts). The cell is the best of the ``select_num`` = 100 most probable paths under
    the learned distribution, each scored on one arch-valid batch: the "template"
    evaluation (NB201's ``get_best_arch`` over ``return_topK(100)``). NB201's
    ``SETN.config``: 250 epochs, SGD lr 0.025 cosine to 0.001, batch 64. ``none`` can be
    chosen.
    """

    name = "setn"
    config = MethodConfig(nb201_epochs=250, grad_clip=None)
    cite = "Dong & Yang 2019 (ICCV); NAS-Bench-201 SETN.config and search script"
    derive_rule = "best of the 100 most probable paths by shared-weight accuracy"

    def weight_mode(self) -> None:
        self.net.set_path(self.uniform_path())

    def arch_step(self, valid: Batch, train: Batch, lr: float, opt: torch.optim.SGD) -> None:
        assert self.alpha is not None
        alpha = self.alpha
        self._arch_loss_step(valid, lambda: self.net.set_weights(torch.softmax(alpha, -1)))

    def derive(self, next_valid: Callable[[], Batch]) -> tuple[int, ...]:
        assert self.alpha is not None
        logp = torch.log_softmax(self.alpha.detach().double(), -1).cpu().numpy()
        return self.best_of(most_probable_paths(logp, self.cfg.select_num), next_valid)


class ENAS(Method):
    """ENAS (Pham et al. 2018, "Efficient Neural Architecture Search via Parameter
    Sharing", ICML), with an LSTM controller (:class:`Controller`), not a per-edge policy.

    Each epoch trains the shared weights on paths sampled from the controller, then
    trains the controller by REINFORCE: reward = shared-weight accuracy (a fraction) of
    the sampled path on one arch-valid batch plus 1e-4 times its entropy, minus a moving
    baseline (decay 0.99), with gradients aggregated over 20 samples per Adam step (lr
    1e-3, betas (0, 0.999), eps 1e-3), clipped to norm 5. These are NB201's ENAS script
    and ``ENAS.config`` (250 epochs, SGD lr 0.05 cosine to 0.0005, batch 128, weight
    decay 2.5e-4, and a cosine of half-period ``T_max`` = 10 epochs, so that the lr
    falls and rises again 25 times over the search); NB201 trains 50 controller steps
    per epoch of 196 weight steps, and we keep that ratio. The cell is the best of 100 controller samples by shared-weight
    accuracy. ``none`` is a choice, as in NB201 (ENAS' own space has no zero op).

    Adapted: the baseline moves after every sample, as in Pham et al.'s ENAS code
    (``baseline -= (1 - decay) * (baseline - reward)`` before each loss). It starts at
    the first reward: our choice, neither source's. Pham et al.'s code starts it at 0
    (``tf.Variable(0.0)`` in ``micro_controller.py``); with decay 0.99 that baseline
    is still under half the rewards' level after 68 samples (1 - 0.99**68 < 0.5), so
    the early advantages are all positive and reinforce whatever was sampled. NB201's script holds the previous epoch's baseline fixed
    within an epoch and, in the first epoch, uses each sample's own accuracy, so that
    the first epoch's controller steps see only the entropy bonus.
    """

    name = "enas"
    config = MethodConfig(
        nb201_epochs=250,
        batch_size=128,
        lr=0.05,
        eta_min=0.0005,
        weight_decay=2.5e-4,
        lr_half_period=10,
    )
    cite = "Pham et al. 2018; NAS-Bench-201 ENAS.config and search script"
    derive_rule = "best of 100 controller samples by shared-weight accuracy"
    has_arch = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.cfg
        self.controller = Controller(self.net.n_edges, self.net.n_ops, cfg)
        self.ctrl_opt = torch.optim.Adam(
            self.controller.parameters(), lr=cfg.ctrl_lr, betas=cfg.ctrl_betas, eps=cfg.ctrl_eps
        )
        self.baseline: float | None = None

    def sample(self) -> tuple[int, ...]:
        with torch.no_grad():
            return tuple(self.controller(self.gen)[0])

    def weight_mode(self) -> None:
        self.net.set_path(self.sample())

    def end_epoch(self, next_valid: Callable[[], Batch]) -> None:
        cfg = self.cfg
        for _ in range(cfg.ctrl_steps):
            self.ctrl_opt.zero_grad(set_to_none=True)
            for _ in range(cfg.ctrl_aggregate):
                codes, logp, ent = self.controller(self.gen)
                reward = self.evaluate(tuple(codes), next_valid()) / 100.0
                reward += cfg.ctrl_entropy_weight * float(ent.detach())
                if self.baseline is None:
                    self.baseline = reward
                else:
                    d = cfg.ctrl_baseline_decay
                    self.baseline = d * self.baseline + (1 - d) * reward
                (-logp * (reward - self.baseline) / cfg.ctrl_aggregate).backward()
            torch.nn.utils.clip_grad_norm_(self.controller.parameters(), cfg.ctrl_grad_clip)
            self.ctrl_opt.step()

    def derive(self, next_valid: Callable[[], Batch]) -> tuple[int, ...]:
        return self.best_of([self.sample() for _ in range(self.cfg.select_num)], next_valid)

    def probabilities(self) -> np.ndarray:
        # its own generator, so that logging the distribution never changes the search
        return self.controller.marginals(torch.Generator().manual_seed(self.epoch))


#: The methods by name: the built-ins in NAS-Bench-201's Table 5 order, then any a user
#: registers (:func:`register_method`).
METHODS: dict[str, type[Method]] = {}

MethodT = TypeVar("MethodT", bound=type[Method])


def register_method(cls: MethodT) -> MethodT:
    """Class decorator: register a :class:`Method` subclass under its ``name``; refuses a
    name already taken, or a class that is not a :class:`Method`.

    Example:
        >>> @register_method  # doctest: +SKIP
        ... class MySearch(RSPS):
        ...     name = "my-search"

    Raises:
        ConfigError: The name is taken (by another class), empty or not lowercase.
        TypeError: ``cls`` is not a :class:`Method` subclass.
    """
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise TypeError(f"{cls!r} is not a one-shot Method subclass")
    name = getattr(cls, "name", "")
    if not name or name != name.strip().lower():
        raise ConfigError(f"a one-shot method needs a lowercase name, got {name!r}")
    if METHODS.get(name, cls) is not cls:
        raise ConfigError(
            f"a one-shot method named {name!r} is already registered; choose another name"
        )
    METHODS[name] = cls
    return cls


def list_methods() -> list[str]:
    """The registered methods' names, the built-ins first (NAS-Bench-201's order)."""
    return list(METHODS)


for _m in (RSPS, DARTSV1, DARTSV2, GDAS, SETN, ENAS):
    register_method(_m)


def get_method(name: str) -> type[Method]:
    """The method registered as ``name``.

    Raises:
        ConfigError: No such method; the message lists them.
    """
    try:
        return METHODS[name.strip().lower()]
    except KeyError:
        raise ConfigError(
            f"unknown one-shot method {name!r}; choose one of {', '.join(METHODS)} "
            "(`nasrepro oneshot list`)"
        ) from None
