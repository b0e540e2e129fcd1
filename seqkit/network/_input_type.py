"""InputType: what a network's input looks like, so it can infer every ``n_in``.

``InputType.recurrent(F)`` is sequences ``[N, F, T]``; ``InputType.feed_forward(F)``
is vectors ``[N, F]``; ``InputType.convolutional(H, W, C)`` is images
``[N, C, H, W]`` or video clips ``[N, C, T, H, W]``. Which of the two a
convolutional input is follows from the layers: when any layer after the
convolutions works on sequences (a recurrent layer, ``RnnOutput``,
``RnnLoss``...) the input is video, frame by frame; otherwise images. Pass
``sequence=True`` or ``False`` to say so explicitly. ``InputType.signals(L, C)``
is sequences of 1-D signals ``[N, C, T, L]``, the input of ``ConvLSTM1D``
(T varies, L is fixed).
"""

from __future__ import annotations

from dataclasses import dataclass

from .._errors import ConfigError
from ._settings import positive_int

__all__ = ["InputType"]

_KINDS = ("recurrent", "feed_forward", "convolutional", "signals")


@dataclass(frozen=True)
class InputType:
    """The shape of one example, without the batch dimension.

    Build it with :meth:`recurrent`, :meth:`feed_forward`, :meth:`convolutional`
    or :meth:`signals`.

    Shape:
        recurrent: ``[N, F, T]``; feed_forward: ``[N, F]``; convolutional:
        ``[N, C, H, W]`` (images) or ``[N, C, T, H, W]`` (video); signals:
        ``[N, C, T, L]``.
    """

    kind: str
    size: int                      # F, or C for convolutional input and signals
    height: int | None = None
    width: int | None = None       # W, or L for signals
    sequence: bool | None = None   # convolutional only: video (True), images (False), decide (None)

    @classmethod
    def recurrent(cls, n_features: int) -> "InputType":
        """Sequences of ``n_features`` features per step: ``[N, F, T]``."""
        return cls("recurrent", positive_int(n_features, "InputType: n_features"))

    @classmethod
    def feed_forward(cls, n_features: int) -> "InputType":
        """Feature vectors: ``[N, F]``."""
        return cls("feed_forward", positive_int(n_features, "InputType: n_features"))

    @classmethod
    def convolutional(cls, height: int, width: int, channels: int, *,
                      sequence: bool | None = None) -> "InputType":
        """Images ``[N, C, H, W]`` or video ``[N, C, T, H, W]`` (argument order as DL4J's).

        Args:
            height, width, channels: the frame size H, W and channels C.
            sequence: True for video clips, False for single images; None (the
                default) decides from the layers (video when a later layer
                works on sequences).
        """
        if sequence is not None and not isinstance(sequence, bool):
            raise ConfigError(f"InputType: sequence must be True, False or None, got {sequence!r}")
        return cls("convolutional", positive_int(channels, "InputType: channels"),
                   positive_int(height, "InputType: height"), positive_int(width, "InputType: width"), sequence)

    @classmethod
    def signals(cls, length: int, channels: int) -> "InputType":
        """Sequences of 1-D signals ``[N, C, T, L]`` (``ConvLSTM1D``'s input): at each of
        the T steps (T varies) a signal of ``length`` L points with ``channels`` C values.

        Keras's channels_last ``(N, T, L, C)`` is ``x.permute(0, 3, 1, 2)``.
        """
        return cls("signals", positive_int(channels, "InputType: channels"), None,
                   positive_int(length, "InputType: length"))

    def shape(self, sequence: bool | None = None) -> tuple:
        """The example shape without the batch dim; ``None`` stands for an unknown T.

        ``sequence`` decides images versus video when this type leaves it open.
        """
        if self.kind == "recurrent":
            return (self.size, None)
        if self.kind == "feed_forward":
            return (self.size,)
        if self.kind == "signals":
            return (self.size, None, self.width)
        video = self.sequence if self.sequence is not None else bool(sequence)
        return (self.size, None, self.height, self.width) if video else (self.size, self.height, self.width)

    def to_dict(self) -> dict:
        """A JSON-safe description (``InputType.from_dict`` reverses it)."""
        return {"kind": self.kind, "size": self.size, "height": self.height, "width": self.width,
                "sequence": self.sequence}

    @classmethod
    def from_dict(cls, data: dict) -> "InputType":
        """The input type a :meth:`to_dict` described; ConfigError for anything else."""
        try:
            kind = data["kind"]
            if kind == "recurrent":
                return cls.recurrent(data["size"])
            if kind == "feed_forward":
                return cls.feed_forward(data["size"])
            if kind == "convolutional":
                return cls.convolutional(data["height"], data["width"], data["size"],
                                         sequence=data.get("sequence"))
            if kind == "signals":
                return cls.signals(data["width"], data["size"])
        except (KeyError, TypeError):
            pass
        raise ConfigError(f"InputType: cannot read {data!r}; expected kind one of {list(_KINDS)}")

    def __repr__(self) -> str:
        if self.kind == "convolutional":
            extra = "" if self.sequence is None else f", sequence={self.sequence}"
            return f"InputType.convolutional({self.height}, {self.width}, {self.size}{extra})"
        if self.kind == "signals":
            return f"InputType.signals({self.width}, {self.size})"
        return f"InputType.{self.kind}({self.size})"
