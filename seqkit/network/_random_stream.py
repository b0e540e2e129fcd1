"""The network's own random stream (dropout), separate from torch's global generators."""

from __future__ import annotations

import contextlib

import torch

__all__ = ["RandomStream"]


class RandomStream:
    """A random stream a network draws from only while training.

    ``fit`` runs inside :meth:`scope`: torch's global generators are swapped
    for this stream's state and swapped back after, so the same seed gives the
    same dropout masks whatever the user's code drew before, and a checkpoint
    can hold the stream to resume it exactly.

    Attributes:
        seed: the stream's seed (the network's seed, or a random one).
        state: the generator states when not in :meth:`scope` (``{"cpu": ...,
            "cuda": ...}``); empty until the first ``fit``.
    """

    def __init__(self, seed: int | None):
        self.seed = seed if seed is not None else int(torch.randint(0, 2 ** 62, ()).item())
        self.state: dict = {}
        self._active = False

    @staticmethod
    def capture(device: torch.device) -> dict:
        """The global generators' states now (the CUDA one for a CUDA ``device``)."""
        out = {"cpu": torch.get_rng_state()}
        if device.type == "cuda":
            out["cuda"] = torch.cuda.get_rng_state(device)
        return out

    def snapshot(self, device: torch.device) -> dict:
        """The stream's state: live inside :meth:`scope`, else the stored one (for a model file)."""
        return self.capture(device) if self._active else dict(self.state)

    @contextlib.contextmanager
    def scope(self, device: torch.device):
        """Run with this stream in torch's global generators; store its state after."""
        cuda = device.type == "cuda"
        devices = [device.index if device.index is not None else torch.cuda.current_device()] if cuda else []
        with torch.random.fork_rng(devices=devices):
            if "cpu" in self.state:
                torch.set_rng_state(self.state["cpu"])
            else:
                torch.default_generator.manual_seed(self.seed)
            if cuda:
                if "cuda" in self.state:
                    torch.cuda.set_rng_state(self.state["cuda"], device)
                else:
                    with torch.cuda.device(device):
                        torch.cuda.manual_seed(self.seed)
            self._active = True
            try:
                yield
            finally:
                self.state = self.capture(device)
                self._active = False
