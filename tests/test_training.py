"""neuroemu.training: the trainer, checkpoints, conversion to the engine and the shipped models."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import neuroemu  # noqa: E402
import neuroemu.datasets  # noqa: E402
from neuroemu import training  # noqa: E402
from neuroemu.errors import ConfigError, NetworkFileError  # noqa: E402
from neuroemu.torch import simulate  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits():
    train = neuroemu.datasets.digits(encoding="rate", bins=10, seed=0, split="train")
    test = neuroemu.datasets.digits(encoding="rate", bins=10, seed=0, split="test")
    return (train.frames[:192], train.labels[:192]), (test.frames, test.labels)


def _loss(model, frames, labels, **kw):
    with torch.no_grad():
        res = simulate(model, torch.from_numpy(frames), **kw)
        return float(torch.nn.functional.cross_entropy(res.output_counts.sum(1), torch.from_numpy(labels)))


@pytest.mark.parametrize("schedule,group", [("sync", None), ("momentum", 4)])
def test_two_epochs_reduce_the_loss(digits, schedule, group):
    (x, y), _ = digits
    kw = {"schedule": schedule} if schedule == "sync" else {"schedule": schedule, "group_size": group}
    before = _loss(training.make_model(64, 10, seed=0), x, y, **kw)
    result = training.train(train_data=(x, y), epochs=2, batch_size=32, seed=0, progress=False, **kw)
    after = _loss(result.model, x, y, **kw)
    assert after < 0.7 * before
    assert len(result.history) == 2 and result.evaluation == {} and result.network is None
    assert 0 <= result.history[-1]["train_accuracy"] <= 1


def test_resume_gives_the_uninterrupted_result(digits, tmp_path):
    (x, y), _ = digits
    common = {"train_data": (x[:128], y[:128]), "epochs": 3, "batch_size": 32, "schedule": "random",
              "group_size": 4, "seed": 5, "progress": False}
    straight = training.train(checkpoint=tmp_path / "a.pt", **common)
    first = training.train(checkpoint=tmp_path / "b.pt", callback=lambda record: record["epoch"] < 2, **common)
    assert len(first.history) == 2
    resumed = training.train(checkpoint=tmp_path / "b.pt", resume=True, **common)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in straight.history]
    assert strip == [{k: v for k, v in h.items() if k != "seconds"} for h in resumed.history]
    assert not torch.equal(straight.model[0].weight, first.model[0].weight)
    # the checkpoint also loads as a model on its own
    rebuilt = training.load_torch_model(tmp_path / "b.pt")
    for a, b in zip(resumed.model.parameters(), rebuilt.parameters()):
        assert torch.equal(a, b)
    (tmp_path / "bad.pt").write_bytes(b"junk")
    with pytest.raises(NetworkFileError, match="bad.pt"):
        training.load_torch_model(tmp_path / "bad.pt")


def test_resume_refuses_a_different_run(digits, tmp_path):
    (x, y), _ = digits
    common = {"train_data": (x[:64], y[:64]), "batch_size": 32, "progress": False, "checkpoint": tmp_path / "c.pt"}
    training.train(epochs=1, schedule="sync", **common)
    with pytest.raises(ConfigError, match="schedule"):
        training.train(epochs=1, schedule="momentum", group_size=4, resume=True, **common)


def test_deployed_network_spikes_like_the_simulator(digits):
    (x, y), (xt, _) = digits
    result = training.train(train_data=(x[:128], y[:128]), epochs=1, schedule="momentum", group_size=4,
                            batch_size=32, progress=False)
    net = training.to_network(result.model, dt=1e-3)
    model64 = copy.deepcopy(result.model).double()
    sample = xt[:40].astype(np.float64)
    for schedule, group in [("sync", None), ("momentum", 4), ("fifo", 2), ("momentum", 1)]:
        res = simulate(model64, sample, schedule=schedule, group_size=group)
        eng = neuroemu.Emulator(net, schedule=schedule, group_size=group).run_batch(sample)
        np.testing.assert_array_equal(res.spike_counts.numpy(), eng.spike_counts)
        np.testing.assert_array_equal(res.forward_steps.numpy(), eng.forward_steps_per_bin)
        assert eng.total_spikes.sum() > 1000


def test_evaluation_is_the_engine_on_the_test_data(digits):
    (x, y), (xt, yt) = digits
    result = training.train(train_data=(x[:64], y[:64]), test_data=(xt[:50], yt[:50]), epochs=1, batch_size=32,
                            schedule="momentum", group_size=4, progress=False)
    assert set(result.evaluation) == {"sync", "momentum F=4"}
    eng = neuroemu.Emulator(result.network, schedule="momentum", group_size=4).run_batch(xt[:50], labels=yt[:50])
    assert result.evaluation["momentum F=4"]["accuracy"] == eng.accuracy
    assert result.evaluation["momentum F=4"]["spikes"] == pytest.approx(float(np.mean(eng.total_spikes)))


def test_save_and_load_model(digits, tmp_path):
    (x, y), (xt, _) = digits
    model = training.make_model(64, 10, (12,), seed=3)
    config = training.TrainConfig(hidden=(12,), epochs=0)
    path = training.save_model(model, tmp_path / "m.npz", dt=1e-3, config=config, metrics={"accuracy": 0.5})
    net = training.load_model(path)
    ref = training.to_network(model, dt=1e-3)
    for a, b in zip(net.weights(), ref.weights()):
        np.testing.assert_array_equal(a, b)
    assert [p.beta.tolist() for p in net.populations] == [p.beta.tolist() for p in ref.populations]
    info = training.model_info(path)
    assert info["metrics"] == {"accuracy": 0.5} and info["config"]["hidden"] == [12]
    back = training.load_torch_model(path, dtype=torch.float64)
    sample = xt[:20].astype(np.float64)
    np.testing.assert_array_equal(
        simulate(back, sample, schedule="momentum", group_size=2).spike_counts.numpy(),
        neuroemu.Emulator(net, schedule="momentum", group_size=2).run_batch(sample).spike_counts,
    )


def test_load_model_rejects_bad_files(tmp_path):
    model = training.make_model(4, 2, (3,), seed=0)
    good = training.save_model(model, tmp_path / "good.npz", dt=1e-3)
    with np.load(good) as data:
        arrays = {k: data[k] for k in data.files}
    np.savez(tmp_path / "foreign.npz", weights=np.ones(3))
    with pytest.raises(NetworkFileError, match="not a neuroemu model"):
        training.load_model(tmp_path / "foreign.npz")
    np.savez(tmp_path / "newer.npz", **{**arrays, "format_version": np.array(99)})
    with pytest.raises(NetworkFileError, match="version 99"):
        training.load_model(tmp_path / "newer.npz")
    np.savez(tmp_path / "short.npz", **{k: v for k, v in arrays.items() if k != "weight_1"})
    with pytest.raises(NetworkFileError, match="weight_1"):
        training.load_model(tmp_path / "short.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(NetworkFileError, match="junk.npz"):
        training.load_model(tmp_path / "junk.npz")


def test_bad_training_arguments(digits):
    (x, y), _ = digits
    with pytest.raises(ConfigError, match="schedule"):
        training.train(train_data=(x, y), schedule="lifo", progress=False)
    with pytest.raises(ConfigError, match="loss"):
        training.train(train_data=(x, y), loss="mse", progress=False)
    with pytest.raises(ConfigError, match="group_size"):
        training.train(train_data=(x, y), schedule="sync", group_size=4, progress=False)


def test_first_spike_loss_trains(digits):
    (x, y), _ = digits
    result = training.train(train_data=(x[:64], y[:64]), epochs=2, batch_size=32, loss="first_spike",
                            schedule="momentum", group_size=4, progress=False)
    assert all(np.isfinite(h["loss"]) for h in result.history)
    assert result.history[1]["loss"] < result.history[0]["loss"]


def test_train_is_exported_lazily():
    assert neuroemu.train is training.train
    out = subprocess.run([sys.executable, "-W", "error", "-m", "neuroemu.training", "--help"],
                         capture_output=True, text=True, check=True)
    assert "--group-size" in out.stdout and out.stderr == ""


def test_command_line(tmp_path, capsys):
    out = tmp_path / "cli.npz"
    code = training.main(["--epochs", "1", "--limit", "64", "--hidden", "16", "--schedule", "momentum",
                          "--group-size", "4", "--out", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "momentum F=4" in printed and "wrote" in printed
    net = training.load_model(out)
    assert net.layer_sizes == (16, 10)
    info = training.model_info(out)
    assert info["config"]["schedule"] == "momentum" and info["config"]["group_size"] == 4
    assert set(info["metrics"]["evaluation"]) == {"sync", "momentum F=4", "momentum F=1"}


def _test_split(dataset):
    if dataset == "digits":
        return neuroemu.datasets.digits(encoding="rate", bins=10, seed=0, split="test")
    return neuroemu.datasets.digits_rows(split="test", seed=0)


@pytest.mark.parametrize("name", training.PRETRAINED)
def test_pretrained_models_reproduce_their_stored_metrics(name):
    net = training.pretrained(name)
    info = training.model_info(training.pretrained_path(name))
    config = info["config"]
    assert config["epochs"] == 30 and config["seed"] == 0
    assert config["schedule"] == ("sync" if name.endswith("_sync") else "momentum")
    test = _test_split(config["dataset"])
    now = training.evaluate(net, test.frames, test.labels, [("sync", None), ("momentum", 4), ("momentum", 1)])
    assert now == info["metrics"]["evaluation"]
    assert now["sync"]["accuracy"] > (0.85 if config["dataset"] == "digits" else 0.6)


@pytest.mark.parametrize("dataset", ["digits", "digits_rows"])
def test_async_trained_model_is_better_under_async_execution(dataset):
    def evaluation(name):
        return training.model_info(training.pretrained_path(name))["metrics"]["evaluation"]

    sync, asyn = evaluation(f"{dataset}_sync"), evaluation(f"{dataset}_momentum_f4")
    for schedule in ("momentum F=4", "momentum F=1"):
        assert asyn[schedule]["accuracy"] > sync[schedule]["accuracy"]


def test_pretrained_loads_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import neuroemu.training as t\n"
        "print(t.pretrained('digits_momentum_f4').layer_sizes)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(128, 64, 10)"


def test_model_file_is_plain_arrays():
    with np.load(training.pretrained_path("digits_sync"), allow_pickle=False) as data:
        assert str(data["format"]) == "neuroemu-model" and int(data["format_version"]) == 1
        json.loads(str(data["config"]))
