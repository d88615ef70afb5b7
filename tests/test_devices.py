"""`--device`: auto, cpu, cuda, cuda:N, with one-line errors when CUDA is missing."""

import pytest
import torch

from s2w_toolkit.devices import resolve_device
from s2w_toolkit.errors import DeviceError


def test_cpu_and_auto():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_cuda_without_cuda_is_a_clear_error(run_cli, demo):
    with pytest.raises(DeviceError, match="CUDA is not available"):
        resolve_device("cuda:1")
    result = run_cli("verify", demo["obama"], demo["biden"], "--device", "cuda")
    assert result.exit_code == 1 and "CUDA is not available" in result.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_runs_on_cuda(run_cli, demo):
    result = run_cli("verify", demo["obama"], demo["biden"], "--device", "cuda", "--json")
    assert result.exit_code == 0 and '"device": "cuda:0"' in result.stdout


def test_bad_device_spelling():
    with pytest.raises(DeviceError, match="unknown device 'gpu'"):
        resolve_device("gpu")
