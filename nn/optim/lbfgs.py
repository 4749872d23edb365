"""L-BFGS, ported from PyTorch's ``torch/optim/lbfgs.py`` (itself from minFunc / torch7's
``lbfgs.lua`` and ``lswolfe.lua``), on numpy vectors.

All of the model's parameters are viewed as one flat vector θ (n numbers) and its gradient
g. L-BFGS keeps the last ``history_size`` pairs ``s_k = θ_{k+1} − θ_k`` and
``y_k = g_{k+1} − g_k`` and builds the direction ``d = −H g`` with the two-loop recursion,
where H approximates the inverse Hessian::

    q ← −g;  for i = newest … oldest:  α_i = ρ_i s_iᵀq,  q ← q − α_i y_i      (ρ_i = 1/y_iᵀs_i)
    r ← γ q  with γ = s_kᵀy_k / y_kᵀy_k  (scale of the initial Hessian)
    for i = oldest … newest:  β_i = ρ_i y_iᵀr,  r ← r + (α_i − β_i) s_i;   d = r

then steps ``θ ← θ + t d`` with ``t = lr`` (the first step ``min(1, 1/‖g‖₁)·lr``), or with
``t`` from a strong-Wolfe line search (``line_search_fn='strong_wolfe'``). A pair is only
kept when ``yᵀs > 1e-10`` (curvature condition). Stops after ``max_iter`` iterations,
``max_eval`` evaluations, ``max|g| ≤ tolerance_grad``, or progress (step or loss change)
below ``tolerance_change``. The arithmetic runs in the parameters' dtype, as PyTorch's.
"""
from __future__ import annotations

import numpy as np

import engine

from .optimizers import Optimizer

__all__ = ["LBFGS"]


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clipped to ``bounds``
    (default: between x1 and x2); the bounds' midpoint when the cubic has no minimum."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """Line search along ``d`` from ``x`` for a step ``t`` meeting the strong Wolfe
    conditions: ``f(x + t d) ≤ f + c1·t·gᵀd`` (sufficient decrease) and
    ``|∇f(x + t d)ᵀd| ≤ −c2·gᵀd`` (curvature). Bracketing, then zoom by cubic interpolation.
    Returns ``(f_new, g_new, t, evaluations)``."""
    d_norm = np.abs(d).max()
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = g_new.dot(d)

    # bracket an interval containing a point satisfying the Wolfe criteria
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # interpolate
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                               bounds=(min_step, max_step))
        # next step
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

    if ls_iter == max_ls:  # reached the maximum number of iterations
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom: refine the bracket until a point satisfies the criteria
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:  # bracket too small
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                               bracket[1], bracket_f[1], bracket_gtd[1])
        # Too close to a boundary (twice in a row, or outside): move 0.1·width inside.
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            # Armijo condition not met, or not lower than the lowest point
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True  # Wolfe conditions met
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                # the old high becomes the new low
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            # the new point becomes the new low
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new

    t = bracket[low_pos]
    return bracket_f[low_pos], bracket_g[low_pos], t, ls_func_evals


class LBFGS(Optimizer):
    """L-BFGS with PyTorch's interface and algorithm: ``step(closure)`` runs up to
    ``max_iter`` iterations, calling ``closure()`` (which must zero the gradients, compute
    the loss, call ``backward()`` and return the loss) whenever it needs f and ∇f.

    ``LBFGS(params, lr=1, max_iter=20, max_eval=None (max_iter·5/4), tolerance_grad=1e-7,
    tolerance_change=1e-9, history_size=100, line_search_fn=None | 'strong_wolfe')``.
    One parameter group only (as PyTorch). ``step`` returns the loss of the first
    evaluation (before this step's updates).

    >>> import engine
    >>> w = engine.tensor([3.0, -1.0], requires_grad=True, dtype=np.float64)
    >>> opt = LBFGS([w], line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = ((w - 1.0) ** 2).sum() + (w[0] * w[1]) ** 2
    ...     loss.backward()
    ...     return loss
    >>> _ = opt.step(closure); np.round(w.data, 4)   # a = b = t with t³ + t = 1
    array([0.6823, 0.6823])
    """

    requires_closure = True  # nn.fit passes a closure to step()

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                             f"{line_search_fn!r}")
        for name, v in (("max_iter", max_iter), ("max_eval", max_eval),
                        ("history_size", history_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"LBFGS: {name} must be an int >= 1, got {v!r}")
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        dtypes = {p.dtype for p in self._params}
        if len(dtypes) != 1:
            raise TypeError(f"LBFGS: all parameters must share one dtype, got "
                            f"{sorted(str(d) for d in dtypes)}")
        self._dtype = dtypes.pop()

    # -- the flat vector ---------------------------------------------------------------------
    def _gather_flat_grad(self):
        """∇f as one vector; a parameter without a gradient contributes zeros."""
        return np.concatenate([np.zeros(p.numel(), self._dtype) if p.grad is None
                               else np.asarray(p.grad, dtype=self._dtype).reshape(-1)
                               for p in self._params])

    def _add_grad(self, step_size, update):
        """θ ← θ + step_size · update (in place, through the Tensors' own add_)."""
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(np.asarray(update[offset:offset + n] * step_size,
                              dtype=p.dtype).reshape(p.shape))
            offset += n

    def _clone_param(self):
        return [p.data.copy() for p in self._params]

    def _set_param(self, params_data):
        for p, data in zip(self._params, params_data, strict=True):
            p.copy_(data)

    def _directional_evaluate(self, closure, x, t, d):
        """f and ∇f at x + t·d, leaving the parameters at x."""
        self._add_grad(t, d)
        loss = _float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # -- the step ------------------------------------------------------------------------------
    def step(self, closure=None):
        """Up to ``max_iter`` L-BFGS iterations; returns the loss of the first evaluation."""
        if closure is None:
            raise TypeError("LBFGS.step needs a closure that zeroes the gradients, computes "
                            "the loss, calls backward() and returns the loss (as PyTorch)")
        self._opt_called = True  # a scheduler stepped before this warns, as PyTorch's

        def evaluate():
            with engine.enable_grad():
                return closure()

        with engine.no_grad():
            return self._step(evaluate)

    def _step(self, closure):
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        # LBFGS's state is global; like PyTorch, keep it under the first parameter.
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = _float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1

        flat_grad = self._gather_flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:  # already optimal
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag, prev_flat_grad = state.get("H_diag"), state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # ---- the direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:  # curvature condition: keep the pair
                    if len(old_dirs) == history_size:  # limited memory: forget the oldest
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)
                num_old = len(old_dirs)
                al = [None] * num_old
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q = q - al[i] * old_dirs[i]
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]

            prev_flat_grad = flat_grad.copy()
            prev_loss = loss

            # ---- the step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr
            else:
                t = lr
            gtd = flat_grad.dot(d)  # directional derivative
            if gtd > -tolerance_change:
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._clone_param()

                def obj_func(x, t, d):
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd,
                    max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)  # a fixed step
                opt_cond = False
                if n_iter != max_iter:
                    # re-evaluate (not after the last iteration: in a stochastic setting the
                    # next step's first evaluation does it)
                    loss = _float(closure())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # ---- stopping conditions
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tolerance_change:  # lack of progress
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    # -- state -----------------------------------------------------------------------------------
    def load_state_dict(self, state_dict):
        """Restore ``state_dict()``; L-BFGS's state is flat vectors of all parameters, kept
        under parameter 0, so it is checked against the total size, not a parameter's shape."""
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError("LBFGS.load_state_dict: expected a dict with keys 'state' and "
                             "'param_groups' (from optimizer.state_dict())")
        n = sum(p.numel() for p in self._params)
        saved = dict(state_dict["state"])
        flat = saved.pop(0, None)
        if saved:
            raise ValueError(f"LBFGS.load_state_dict: state for parameters {sorted(saved)}; "
                             "L-BFGS keeps its state under parameter 0 only")
        vectors = []
        if flat is not None:
            for key in ("d", "prev_flat_grad"):
                if key in flat and flat[key] is not None:
                    vectors.append((key, flat[key]))
            for key in ("old_dirs", "old_stps"):
                vectors += [(key, v) for v in flat.get(key) or []]
            for key, v in vectors:
                if np.shape(v) != (n,):
                    raise ValueError(f"LBFGS.load_state_dict: state '{key}' has shape "
                                     f"{np.shape(v)}, the parameters have {n} numbers")
        super().load_state_dict({"state": {}, "param_groups": state_dict["param_groups"]})
        if flat is not None:
            entry = {}
            for k, v in flat.items():
                if isinstance(v, np.ndarray):
                    v = np.array(v, dtype=self._dtype)
                elif isinstance(v, (list, tuple)):
                    v = [np.array(a, dtype=self._dtype) if isinstance(a, np.ndarray) else a
                         for a in v]
                entry[k] = v
            self.state = {self._params[0]: entry}


def _float(loss):
    """The closure's loss as a Python float (a scalar Tensor or a number)."""
    if hasattr(loss, "item"):
        return float(loss.item())
    return float(loss)
