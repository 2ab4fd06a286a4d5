"""Batched multi-architecture training: equivalence with single-model training (issue 8)."""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import nasrepro.bench.harness._batched_modules as batched_module
import nasrepro.bench.harness._train as train_module
from nasrepro.bench.harness import (
    BatchedNetwork,
    batch_waste,
    fit_batched,
    group_cells,
    train_batched,
)
from nasrepro.bench.harness._compiler import Network, compile_network
from nasrepro.bench.harness._sweep import SweepError, _batch_size, load_results, sweep
from nasrepro.bench.harness._train import get_splits, train
from nasrepro.spaces import get_space
from nasrepro.tables import Protocol, TrialResult, get_protocol

SPACE = get_space("cell")

#: Four cells that cover every op and dead edges. The second has no live path (its
#: output node only receives ``none``). Some ops are used by non-adjacent models, so
#: the per-model masks matter: ``nor_conv_3x3`` on edge 0->1 (models 0 and 3, not 2)
#: and ``skip_connect`` on edge 0->3 (models 0 and 3, not 2, which uses a conv there).
ARCHS = [
    "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|nor_conv_1x1~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|none~0|none~1|none~2|",
    "|skip_connect~0|+|nor_conv_1x1~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|",
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",
]
SEEDS = [0, 1, 2, 3]
LOSS_RTOL = 1e-4
SAME_PREDICTIONS = 0.995


def _protocol(reduction: str) -> Protocol:
    return dataclasses.replace(get_protocol("synthetic-smoke"), reduction=reduction)


def _single_runs(
    protocol: Protocol, device: str, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[TrialResult, Network]]:
    """Single-model training of each cell, with the trained network it built."""
    built: list[Network] = []
    real_compile = train_module.compile_network

    def spy(*args: object, **kwargs: object) -> Network:
        net = real_compile(*args, **kwargs)  # type: ignore[arg-type]
        built.append(net)
        return net

    out = []
    with monkeypatch.context() as m:
        m.setattr(train_module, "compile_network", spy)
        for arch, seed in zip(ARCHS, SEEDS, strict=True):
            result = train(arch, protocol, seed, device)
            out.append((result, built[-1]))
    return out


def _check_equivalent(protocol: Protocol, device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    singles = _single_runs(protocol, device, monkeypatch)
    run = fit_batched(ARCHS, protocol, SEEDS, device)
    splits = get_splits(protocol)
    x_test = torch.as_tensor(splits.x_test, device=device)
    with torch.no_grad():
        batched_pred = run.model.eval().shared(x_test).argmax(2)  # (K, n_test)
    for k, ((single, net), batched) in enumerate(zip(singles, run.results, strict=True)):
        assert (batched.arch, batched.seed, batched.protocol_id) == (
            single.arch,
            single.seed,
            single.protocol_id,
        )
        assert batched.params == single.params and batched.flops == single.flops
        assert batched.n_epochs == single.n_epochs == protocol.epochs
        for metric, values in single.curves.items():
            got = batched.history[metric]
            if "loss" in metric:
                assert got == pytest.approx(values, rel=LOSS_RTOL), (k, metric)
            else:  # accuracies, in percent: >= 99.5% identical argmax bounds them
                assert np.allclose(got, values, atol=100 * (1 - SAME_PREDICTIONS)), (k, metric)
        with torch.no_grad():
            single_pred = net.eval()(x_test).argmax(1)
        same = (single_pred == batched_pred[k]).double().mean().item()
        assert same >= SAME_PREDICTIONS, (k, same)


@pytest.mark.parametrize("reduction", ["poolreduce", "resblock", "pool"])
def test_batched_training_equals_single_training(
    reduction: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _check_equivalent(_protocol(reduction), "cpu", monkeypatch)


@pytest.mark.parametrize("gather_below", [0.0, 2.0])
def test_masked_ranges_and_gathered_users_both_match(
    gather_below: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ops with gaps among their users: always masked ranges (0.0), always gathers (2.0)."""
    monkeypatch.setattr(batched_module, "_GATHER_BELOW", gather_below)
    nets, specs = _nets(_protocol("poolreduce"))
    plan = BatchedNetwork(nets, specs).cells[0].plan
    assert any(e.gathered if gather_below else e.masked for _, _, es in plan for e in es)
    _check_equivalent(_protocol("poolreduce"), "cpu", monkeypatch)


@pytest.mark.gpu
@pytest.mark.parametrize("reduction", ["poolreduce", "resblock", "pool"])
def test_batched_training_equals_single_training_on_gpu(
    reduction: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _check_equivalent(_protocol(reduction), "cuda", monkeypatch)


def _nets(protocol: Protocol) -> tuple[list[Network], list]:
    specs = [SPACE.lower(SPACE.parse(a), **protocol.macro()) for a in ARCHS]
    nets = []
    for spec, seed in zip(specs, SEEDS, strict=True):
        torch.manual_seed(seed)
        nets.append(compile_network(spec, 1, 4, 1))
    return nets, specs


def test_stacked_module_starts_from_each_seeds_parameters_and_computes_the_same() -> None:
    nets, specs = _nets(_protocol("resblock"))
    originals = [copy.deepcopy(n) for n in nets]
    model = BatchedNetwork(nets, specs)
    for net, orig in zip(model.export(), originals, strict=True):
        for (name, a), b in zip(net.state_dict().items(), orig.state_dict().values(), strict=True):
            assert torch.equal(a, b), name
    with torch.no_grad():  # export writes the stacked values back into the nets
        model.classifier.weight.add_(1.0)
        model.stem[1].bias.add_(2.0)
    for net, orig in zip(model.export(), originals, strict=True):
        assert torch.equal(net.classifier.weight, orig.classifier.weight + 1.0)
        assert torch.equal(net.stem[1].bias, orig.stem[1].bias + 2.0)
    with torch.no_grad():
        model.classifier.weight.sub_(1.0)
        model.stem[1].bias.sub_(2.0)
    x = torch.randn(32, 1, 16, generator=torch.Generator().manual_seed(5))
    model.train()
    logits = model.shared(x)  # (K, B, n_classes), BatchNorm in training mode
    for k, orig in enumerate(originals):
        torch.testing.assert_close(logits[k], orig.train()(x), rtol=1e-5, atol=1e-6)


def test_ops_no_model_uses_are_skipped() -> None:
    nets, specs = _nets(_protocol("poolreduce"))
    model = BatchedNetwork(nets, specs)
    cell = model.cells[0]
    for e in range(6):
        live = {
            s.blocks[0].cell.edges[e][2]
            for s in specs
            if s.blocks[0].cell.edges[e] in s.blocks[0].cell.live_edges()
        }
        assert len(cell.ops[e]) == len(live), e
    # on edge 0->1, conv 1x1 belongs to the second cell only, where that edge is dead
    assert [entry.op.value for entry in cell.plan[0][2]] == ["skip", "conv3x3"]
    # skip: model 2 alone; conv 3x3: models 0 and 3, gathered (half of the range 0-3)
    assert [(e.start, e.stop, e.masked, e.gathered) for e in cell.plan[0][2]] == [
        (2, 3, False, False),
        (0, 4, False, True),
    ]


def test_batch_of_one_and_repeated_arch_with_other_seeds() -> None:
    p = _protocol("poolreduce")
    one = train_batched(ARCHS[:1], p, 7, static=False)
    ref = train(ARCHS[0], p, 7, static=False)
    assert one[0].history["train_loss"] == pytest.approx(ref.history["train_loss"], rel=LOSS_RTOL)
    two = train_batched([ARCHS[0], ARCHS[0]], p, [7, 8], static=False)
    assert two[0].history["train_loss"] == pytest.approx(ref.history["train_loss"], rel=LOSS_RTOL)
    assert two[1].history["train_loss"] != pytest.approx(ref.history["train_loss"], rel=1e-3)


def test_other_spaces_and_bad_arguments_are_rejected() -> None:
    chain = get_space("chain").sample(np.random.default_rng(0)).to_string()
    with pytest.raises(ValueError, match="cell"):
        train_batched([chain], "synthetic-smoke", 0, space="chain")
    with pytest.raises(ValueError, match="one seed per architecture"):
        train_batched(ARCHS, "synthetic-smoke", [0, 1])
    with pytest.raises(ValueError, match="no architectures"):
        train_batched([], "synthetic-smoke", 0)
    a, b = (SPACE.lower(SPACE.parse(x), C=c, N=1, reduction="pool") for x, c in zip(ARCHS, (4, 8)))
    # networks lowered under another macro than the protocol's are refused as such
    with pytest.raises(ValueError, match="not the network protocol synthetic-smoke builds"):
        train_batched([a, b], "synthetic-smoke", 0)
    # hand-made networks (no architecture string to compare) must share one skeleton
    a, b = (dataclasses.replace(s, arch="") for s in (a, b))
    with pytest.raises(ValueError, match="macro skeleton"):
        train_batched([a, b], "synthetic-smoke", 0)


def test_grouping_covers_every_cell_and_wastes_less_than_the_given_order() -> None:
    rng = np.random.default_rng(0)
    archs = [SPACE.sample(rng).to_string() for _ in range(256)]
    groups = group_cells(archs, 32)
    assert sorted(i for g in groups for i in g) == list(range(256))
    assert all(1 <= len(g) <= 32 for g in groups)
    given = np.mean([batch_waste(archs[i : i + 32]) for i in range(0, 256, 32)])
    grouped = np.mean([batch_waste([archs[i] for i in g]) for g in groups])
    assert grouped < 0.8 * given, (grouped, given)
    assert batch_waste([ARCHS[0]] * 3) == 0.0
    with pytest.raises(ValueError, match="k=0"):
        group_cells(archs, 0)


def test_amp_is_opt_in_and_recorded() -> None:
    p = _protocol("poolreduce")
    fp32 = train_batched(ARCHS[:2], p, [0, 1], static=False)
    bf16 = train_batched(ARCHS[:2], p, [0, 1], static=False, amp=True)
    assert "amp" not in fp32[0].versions and bf16[0].versions["amp"] == "bfloat16"
    assert fp32[0].versions["trainer"] == bf16[0].versions["trainer"] == "batched"
    from nasrepro.bench.harness import get_splits  # the data trained on, as single training

    assert fp32[0].versions["data_sha256"] == get_splits(p).digest()
    for a, b in zip(fp32, bf16, strict=True):
        assert all(math.isfinite(v) for v in b.history["train_loss"])
        assert b.history["train_loss"] == pytest.approx(a.history["train_loss"], rel=0.05)


def test_sweep_batched_matches_single_sweep(tmp_path: Path) -> None:
    archs = ARCHS[:3]
    single = sweep("cell", "synthetic-smoke", [0], tmp_path / "a", archs=archs, chunk_size=3)
    batched = sweep(
        "cell", "synthetic-smoke", [0], tmp_path / "b", archs=archs, chunk_size=3, batched=3
    )
    assert single.archs_trained == batched.archs_trained == 3
    a = {r.arch: r for r in load_results(tmp_path / "a")}
    b = {r.arch: r for r in load_results(tmp_path / "b")}
    assert list(a) == list(b)  # chunk order is kept, whatever the batch grouping
    for arch, r in a.items():
        assert b[arch].history["valid_loss"] == pytest.approx(r.history["valid_loss"], rel=1e-4)
    # reproduce expects bitwise identity from the single-model table only
    from nasrepro.bench.harness._reproduce import reproduce
    from nasrepro.tables import Table, build

    for name, is_batched in (("a", False), ("b", True)):
        build(tmp_path / name, tmp_path / f"{name}.h5")
        rep = reproduce(Table.open(tmp_path / f"{name}.h5"), archs[0], 0)
        assert rep.batched is is_batched and rep.bitwise_expected is not is_batched
        # batched kernels match single training to float tolerance: CLOSE, not IDENTICAL
        assert rep.verdict == ("CLOSE" if is_batched else "IDENTICAL"), rep.gaps
    assert rep.to_dict()["batched"] is True  # the last one, from the batched table
    with pytest.raises(SweepError, match="cell"):
        sweep("chain", "synthetic-smoke", [0], tmp_path / "c", sample=2, batched=2)
    with pytest.raises(SweepError, match="amp"):
        sweep("cell", "synthetic-smoke", [0], tmp_path / "d", archs=archs, amp=True)


def test_cli_passes_batched_and_amp() -> None:
    from nasrepro.bench.cli import build_parser

    args = build_parser().parse_args(["sweep", "--out", "x", "--batched", "8", "--amp"])
    assert args.batched == 8 and args.amp
    args = build_parser().parse_args(["sweep", "--out", "x"])
    assert args.batched is None and not args.amp


def test_batching_is_opt_in_on_every_device() -> None:
    """A default sweep trains single models, so `reproduce` can match its table bitwise."""
    assert _batch_size(None, "cell", 16) == 1
    assert _batch_size(8, "cell", 16) == 8
    assert _batch_size(32, "cell", 16) == 16  # cut at the chunk boundary


def test_a_table_mixing_trainers_records_them_per_seed(tmp_path: Path) -> None:
    """Seed 0 trained singly and seed 1 batched, in one sweep directory: the table was
    labelled batched as a whole, so reproduce expected no bitwise match for seed 0."""
    from nasrepro.bench.harness._reproduce import reproduce
    from nasrepro.tables import Table, build

    archs = ARCHS[:2]
    out = tmp_path / "s"
    sweep("cell", "synthetic-smoke", [0], out, archs=archs, chunk_size=2, progress=False)
    sweep("cell", "synthetic-smoke", [1], out, archs=archs, chunk_size=2, batched=2, progress=False)
    build(out, tmp_path / "t.h5")
    t = Table.open(tmp_path / "t.h5")
    import json

    assert json.loads(str(t.attrs["trainers"])) == {"0": ["single"], "1": ["batched"]}
    single, batched = reproduce(t, archs[0], 0), reproduce(t, archs[0], 1)
    assert not single.batched and single.verdict == "IDENTICAL" and single.bitwise_expected
    assert batched.batched and not batched.bitwise_expected
