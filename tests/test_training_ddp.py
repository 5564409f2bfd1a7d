"""Two-process DDP on the CPU (gloo), launched with torchrun: both ranks end with the same weights,
and validation sharded over the ranks is combined."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from maggie.training.checkpoint import load_checkpoint

_WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import torch

    sys.path.insert(0, {tests!r})
    from test_training_loop import BlobDataset, tiny_config

    from maggie.training import Trainer

    out = Path(sys.argv[1])
    config = tiny_config(out, max_steps=3, checkpoint_every=3, val_every=3)
    trainer = Trainer(config, train_dataset=BlobDataset(8), val_dataset=BlobDataset(3, seed=1))
    trainer.fit()
    torch.save(trainer.module.state_dict(), out / f"rank{{trainer.ctx.rank}}.pt")
    trainer.close()
    """
)


@pytest.mark.slow
def test_two_process_ddp_keeps_ranks_identical(tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    if not Path(torchrun).exists():
        pytest.skip("torchrun not found")
    script = tmp_path / "worker.py"
    script.write_text(_WORKER.format(tests=str(Path(__file__).parent)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [torchrun, "--standalone", "--nproc_per_node=2", str(script), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    # BatchNorm running statistics stay per process on the CPU (PyTorch's SyncBatchNorm is
    # GPU-only), so only parameters are compared.
    params = [k for k in rank0 if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    # Gradients are averaged, so parameters agree bit for bit although the ranks saw different
    # halves of each epoch.
    for name in params:
        assert torch.equal(rank0[name], rank1[name]), name
    payload = load_checkpoint(tmp_path / "run" / "checkpoints" / "step_00000003.pt")
    assert payload["world_size"] == 2 and len(payload["rng"]) == 2
    assert all(torch.equal(payload["model"][k], rank0[k]) for k in params)
    # Validation is sharded (2 + 1 samples) and summed over ranks before rank 0 logs it.
    assert (tmp_path / "run" / "val.csv").read_text().splitlines()[0] == "step,MAD,MSE"
    assert (tmp_path / "run" / "checkpoints" / "best.pt").is_file()
