"""RegressionEvaluation: per-column error and correlation figures from mergeable running moments."""

from __future__ import annotations

import numpy as np
import torch

from ._inputs import check_no_nan, prepare
from ._reportable import Reportable

__all__ = ["RegressionEvaluation"]

_WHERE = "RegressionEvaluation.eval"
# Rows of the state tensor [8, K] (float64): count, label mean, prediction mean, label and prediction
# sums of squared deviations, co-moment, sum of squared errors, sum of absolute errors.
_N, _MEAN_Y, _MEAN_P, _M2_Y, _M2_P, _C_YP, _SSE, _SAE = range(8)


def combine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pool two moment states (Chan et al.'s pairwise update), exact up to float64 rounding.

    Shape:
        a, b: float64 ``[8, K]``; returns ``[8, K]``.
    """
    na, nb = a[_N], b[_N]
    n = na + nb
    share = torch.where(n > 0, nb / n.clamp(min=1), 0.0)                      # [K] nb / n
    weight = torch.where(n > 0, na * nb / n.clamp(min=1), 0.0)                # [K] na nb / n
    dy = b[_MEAN_Y] - a[_MEAN_Y]
    dp = b[_MEAN_P] - a[_MEAN_P]
    out = torch.empty_like(a)
    out[_N] = n
    out[_MEAN_Y] = a[_MEAN_Y] + dy * share
    out[_MEAN_P] = a[_MEAN_P] + dp * share
    out[_M2_Y] = a[_M2_Y] + b[_M2_Y] + dy * dy * weight
    out[_M2_P] = a[_M2_P] + b[_M2_P] + dp * dp * weight
    out[_C_YP] = a[_C_YP] + b[_C_YP] + dy * dp * weight
    out[_SSE] = a[_SSE] + b[_SSE]
    out[_SAE] = a[_SAE] + b[_SAE]
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)


class RegressionEvaluation(Reportable):
    """Per-column regression figures over real steps, with masks (DL4J's definitions).

    For column i over its real steps (label y, prediction p, n steps):
    ``MSE = sum (p - y)^2 / n``, ``MAE = sum |p - y| / n``, ``RMSE = sqrt(MSE)``,
    ``RSE = sum (p - y)^2 / sum (y - mean y)^2``, ``PC`` the Pearson correlation of
    p and y, ``R^2 = 1 - RSE`` (DL4J's ``(SStot - SSres) / SStot``). Undefined
    values (no data, constant labels) are NaN.

    The state is, per column, the count, both means, both sums of squared
    deviations, the co-moment and the error sums, all float64 and updated with
    the pairwise (Chan et al.) formulas: numerically stable for large offsets,
    and merging is exact, label means included.

    Args:
        columns: column names (default ``col_0``, ``col_1``, ...), which also fix K.

    Shape:
        eval: labels and predictions ``[N, K]`` or ``[N, K, T]``; mask ``[N, T]``
        or per output ``[N, K, T]`` (``[N]`` / ``[N, K]`` for 2-D input).
    """

    def __init__(self, columns=None):
        super().__init__()
        self._names = None if columns is None else [str(c) for c in columns]
        if self._names is not None and not self._names:
            raise ValueError("RegressionEvaluation: columns must name at least one column")
        self._state: torch.Tensor | None = None          # float64 [8, K] on the data's device

    # ------------------------------------------------------------------ accumulation

    def eval(self, labels, predictions, mask=None) -> "RegressionEvaluation":
        """Add one batch. Returns ``self``.

        Raises:
            ValueError: bad shapes, a column count that differs from earlier calls or the
                names given, NaN labels or predictions at real steps.
        """
        device = None if self._state is None else self._state.device
        p = prepare(labels, predictions, mask, _WHERE, per_output_mask=True, device=device)
        y, pred = p.labels.double(), p.predictions.double()                          # [N, K, T]
        k = pred.shape[1]
        expected = self.num_columns
        if expected is not None and k != expected:
            raise ValueError(f"{_WHERE}: got {k} columns but this evaluation has {expected}")
        real = p.real
        if real is None:
            real = torch.ones_like(pred, dtype=torch.bool)                           # [N, K, T]
        elif real.dim() == 2:
            real = real.unsqueeze(1).expand_as(pred)                                 # [N, K, T]
        for what, values in (("labels", y), ("predictions", pred)):
            nan = torch.isnan(values)
            if bool((nan & real).any()):
                check_no_nan((nan & real).any(dim=1), None, p.time_series, what, _WHERE)
        y = torch.where(real, y, 0.0)
        pred = torch.where(real, pred, 0.0)
        w = real.double()
        n = w.sum(dim=(0, 2))                                                         # [K]
        mean_y = y.sum(dim=(0, 2)) / n.clamp(min=1)                                  # [K]
        mean_p = pred.sum(dim=(0, 2)) / n.clamp(min=1)
        dy = (y - mean_y[None, :, None]) * w                                          # [N, K, T]
        dp = (pred - mean_p[None, :, None]) * w
        err = pred - y                                                                # 0 at masked steps
        batch = torch.stack([n, mean_y, mean_p, (dy * dy).sum(dim=(0, 2)), (dp * dp).sum(dim=(0, 2)),
                             (dy * dp).sum(dim=(0, 2)), (err * err).sum(dim=(0, 2)),
                             err.abs().sum(dim=(0, 2))])                              # [8, K]
        self._state = batch if self._state is None else combine(self._state, batch)
        return self

    eval_time_series = eval

    def merge(self, other: "RegressionEvaluation") -> "RegressionEvaluation":
        """Pool ``other`` into this evaluation (exact). Returns ``self``."""
        if not isinstance(other, RegressionEvaluation):
            raise ValueError(f"RegressionEvaluation.merge: expected a RegressionEvaluation, got "
                             f"{type(other).__name__}")
        self.merge_provenance(other)
        if other._state is None:
            return self
        if self.num_columns is not None and other.num_columns != self.num_columns:
            raise ValueError(f"RegressionEvaluation.merge: column counts differ "
                             f"({self.num_columns} vs {other.num_columns})")
        if self._names is None and other._names is not None:
            self._names = list(other._names)
        theirs = other._state.to(self._state.device) if self._state is not None else other._state.clone()
        self._state = theirs if self._state is None else combine(self._state, theirs)
        return self

    # ------------------------------------------------------------------ figures

    @property
    def num_columns(self) -> int | None:
        if self._state is not None:
            return self._state.shape[1]
        return None if self._names is None else len(self._names)

    @property
    def column_names(self) -> list[str]:
        if self._names is not None:
            return list(self._names)
        return [f"col_{i}" for i in range(self.num_columns or 0)]

    def _host(self) -> np.ndarray:
        k = self.num_columns or 0
        return np.zeros((8, k)) if self._state is None else self._state.cpu().numpy()

    def _column(self, column) -> int:
        names = self.column_names
        if isinstance(column, str):
            if column not in names:
                raise ValueError(f"RegressionEvaluation: unknown column {column!r}; columns are {names}")
            return names.index(column)
        if isinstance(column, (bool, float)) or int(column) != column or not 0 <= int(column) < len(names):
            raise ValueError(f"RegressionEvaluation: column must be an index in [0, {len(names)}) or a name, "
                             f"got {column!r}")
        return int(column)

    def per_column(self) -> dict[str, np.ndarray]:
        """All figures as float64 arrays ``[K]``: count, mean_label, mean_prediction, mse, mae, rmse,
        rse, pearson, r2."""
        s = self._host()
        n = s[_N]
        mse = _ratio(s[_SSE], n)
        rse = _ratio(s[_SSE], s[_M2_Y])
        return {"count": n, "mean_label": np.where(n > 0, s[_MEAN_Y], np.nan),
                "mean_prediction": np.where(n > 0, s[_MEAN_P], np.nan), "mse": mse, "mae": _ratio(s[_SAE], n),
                "rmse": np.sqrt(mse), "rse": rse, "pearson": _ratio(s[_C_YP], np.sqrt(s[_M2_Y] * s[_M2_P])),
                "r2": 1.0 - rse}

    def count(self, column) -> int:
        """Real steps seen in ``column``."""
        return int(self.per_column()["count"][self._column(column)])

    def mean_squared_error(self, column) -> float:
        return float(self.per_column()["mse"][self._column(column)])

    def mean_absolute_error(self, column) -> float:
        return float(self.per_column()["mae"][self._column(column)])

    def root_mean_squared_error(self, column) -> float:
        return float(self.per_column()["rmse"][self._column(column)])

    def relative_squared_error(self, column) -> float:
        return float(self.per_column()["rse"][self._column(column)])

    def pearson_correlation(self, column) -> float:
        return float(self.per_column()["pearson"][self._column(column)])

    def r_squared(self, column) -> float:
        return float(self.per_column()["r2"][self._column(column)])

    def _average(self, key: str) -> float:
        values = self.per_column()[key]
        return float(values.mean()) if values.size else float("nan")

    def average_mean_squared_error(self) -> float:
        """Mean over columns (NaN if any column is undefined)."""
        return self._average("mse")

    def average_mean_absolute_error(self) -> float:
        return self._average("mae")

    def average_root_mean_squared_error(self) -> float:
        return self._average("rmse")

    def average_relative_squared_error(self) -> float:
        return self._average("rse")

    def average_pearson_correlation(self) -> float:
        return self._average("pearson")

    def average_r_squared(self) -> float:
        return self._average("r2")

    # ------------------------------------------------------------------ output

    def stats(self, precision: int = 5) -> str:
        """DL4J's table: ``Column MSE MAE RMSE RSE PC R^2``, values as ``%.{precision}e``."""
        from ._stats_format import regression_stats
        return regression_stats(self, precision)

    def to_dict(self) -> dict:
        pc = self.per_column()
        return {"type": "RegressionEvaluation", "num_columns": self.num_columns, "column_names": self.column_names,
                "per_column": {k: v.tolist() for k, v in pc.items()},
                "average": {k: self._average(k) for k in ("mse", "mae", "rmse", "rse", "pearson", "r2")},
                "provenance": self.stamped_provenance()}

    def _report_document(self, provenance):
        from ._report_other import regression_document
        return regression_document(self, provenance)

    def __repr__(self) -> str:
        return f"RegressionEvaluation(columns={self.num_columns}, average_mse={self.average_mean_squared_error():.6g})"
