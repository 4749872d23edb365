"""Keras's Model methods on every ``nn.Module``: compile, fit, evaluate, predict, summary,
save, get_weights / set_weights (and Sequential's ``add``).

They delegate to ``nn.fit``, ``nn.evaluate``, ``nn.predict``, ``nn.summary`` and
``nn.keras.saving``; what ``compile`` chose is kept on the model (``model.optimizer`` and a
private record of the loss and metrics). The course's listing, line for line::

    model = nn.Sequential()
    model.add(nn.Dense(10, activation='sigmoid', input_dim=20))
    model.add(nn.Dense(1, activation='sigmoid'))
    model.compile(optimizer=SGD(lr=0.5), loss='binary_crossentropy', metrics=['accuracy'])
    model.fit(x=X_train, y=y_train, epochs=1000, batch_size=len(X_train), verbose=0)
    y_pred = model.predict(X_test)

This module imports nothing from ``nn`` at import time (``nn.module`` imports it).
"""
from __future__ import annotations

import numpy as np

__all__ = ["KerasModelMixin"]


def _not_supported(who, **kwargs):
    for name, value in kwargs.items():
        if value is not None:
            raise ValueError(f"{who}: {name}= is not supported")


def input_shape_of(model):
    """One sample's shape as ``model`` knows it: from its last ``fit`` on arrays or
    ``model.build((None, ...))``, else the
    ``input_shape`` it or its first layer declares (through nested Sequentials; a Functional
    model's Input), else a built first Linear's ``in_features``; None if unknown. Used by
    ``model.summary()`` and ``viz.plot_model``."""
    from ..layers import Linear
    from ..module import Sequential
    shape = model.__dict__.get("_keras_fit_shape")
    if shape is not None:
        return shape
    layer = model
    while isinstance(layer, Sequential) and len(layer):
        layer = layer[0]
    inputs = getattr(layer, "_input_list", None)  # a Functional model: its Input's shape
    if inputs is not None:
        return tuple(inputs[0].shape) if len(inputs) == 1 and None not in inputs[0].shape \
            else None
    from .layers import InputLayer
    given = (layer.shape if isinstance(layer, InputLayer)
             else None if isinstance(layer, Sequential) else layer.__dict__.get("input_shape"))
    if isinstance(given, tuple) and all(isinstance(d, int) for d in given):
        return given
    if isinstance(layer, Linear) and layer.in_features is not None:
        return (layer.in_features,)
    return None


def keras_input_names(model) -> list:
    """The names of a Functional model's Inputs, as Keras names them: the ``name=`` given,
    else ``input_layer``, ``input_layer_1``, … (the unnamed ones, in the model's order). Used
    by ``model.summary()`` and ``viz.plot_model``."""
    names, unnamed = [], 0
    for t in getattr(model, "_input_list", ()):
        if getattr(t, "name", None):
            names.append(t.name)
        else:
            names.append("input_layer" + (f"_{unnamed}" if unnamed else ""))
            unnamed += 1
    return names


class KerasModelMixin:
    """Keras's Model API for ``nn.Module`` (mixed into its bases)."""

    # -- layers ------------------------------------------------------------------------------
    @property
    def layers(self) -> list:
        """Keras's ``model.layers``: a Sequential's layers without its Input (Keras 3's), a
        Functional model's Inputs then its layers, another module's children. A module's own
        ``self.layers`` (PyTorch code: ``self.layers = nn.ModuleList(...)``) comes first."""
        own = self.__dict__.get("layers")
        if own is not None:
            return own
        from ..module import Sequential
        from .layers import InputLayer
        children = list(self.children())
        if isinstance(self, Sequential):
            return [m for m in children if not isinstance(m, InputLayer)]
        return list(getattr(self, "_input_list", ())) + children

    @layers.setter
    def layers(self, value) -> None:
        self.__dict__["layers"] = value  # (Module.__setattr__ registered it first)

    @layers.deleter
    def layers(self) -> None:
        self.__dict__.pop("layers", None)

    def get_layer(self, name=None, index=None):
        """Keras's ``model.get_layer``: by ``index`` into ``model.layers``, or by ``name``
        (the name the model registered it under: '1' in a Sequential, 'dense_1' or the
        layer's ``name=`` in a Functional model; a Sequential's layer by its ``name=`` too)."""
        if (name is None) == (index is None):
            raise ValueError("get_layer: give a name or an index (one of them)")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} is out of range for "
                                 f"{len(layers)} layers")
            return layers[index]
        named = dict(self.named_children())
        for layer in layers:  # a Sequential's layers by their name= (Keras's)
            named.setdefault(layer.__dict__.get("keras_name"), layer)
        named.pop(None, None)
        if name not in named:
            raise ValueError(f"No such layer: {name}. Existing layers are: {list(named)}.")
        return named[name]

    # -- shapes --------------------------------------------------------------------------------
    @property
    def input_shape(self):
        """Keras's ``model.input_shape`` of a Sequential or Functional model: ``(None,
        *sample shape)`` (a list of them for several Inputs), from its ``Input``, the first
        layer's ``input_shape=``, or the last ``fit``. A layer's own ``input_shape``
        (the constructor argument, one sample's shape) comes first."""
        own = self.__dict__.get("input_shape", _MISSING)
        if own is not _MISSING:
            return own
        from ..module import Sequential
        inputs = getattr(self, "_input_list", None)
        if inputs is not None:
            shapes = [(None, *t.shape) for t in inputs]
            return shapes[0] if len(shapes) == 1 else shapes
        shape = input_shape_of(self) if isinstance(self, Sequential) else None
        if shape is None:
            raise AttributeError(f"{type(self).__name__} has no input_shape"
                                 + (" yet: start it with nn.keras.Input(shape), give its first "
                                    "layer input_shape=..., or fit it"
                                    if isinstance(self, Sequential) else ""))
        return (None, *shape)

    @input_shape.setter
    def input_shape(self, value) -> None:
        self.__dict__["input_shape"] = value

    @property
    def output_shape(self):
        """Keras's ``model.output_shape`` of a Sequential or Functional model: ``(None,
        *one output's shape)`` (a list for several outputs), found by running the model once
        on zeros (eval mode, no gradients; a stateful layer keeps its state)."""
        own = self.__dict__.get("output_shape", _MISSING)
        if own is not _MISSING:
            return own
        from ..module import Sequential
        outputs = getattr(self, "_output_list", None)
        if outputs is not None:
            shapes = [t.shape for t in outputs]
            return shapes[0] if len(shapes) == 1 else shapes
        if not isinstance(self, Sequential):
            raise AttributeError(f"{type(self).__name__} has no output_shape")
        shape = self.input_shape
        if None in shape[1:]:
            raise AttributeError(f"{type(self).__name__}.output_shape: the input shape "
                                 f"{shape} has unknown sizes")
        return (None, *_probe(self, shape[1:]).shape[1:])

    @output_shape.setter
    def output_shape(self, value) -> None:
        self.__dict__["output_shape"] = value

    # -- losses ------------------------------------------------------------------------------
    @property
    def losses(self) -> list:
        """Keras's ``model.losses``: the regularization penalties (scalar Tensors, with
        their graphs) that ``fit`` adds to the loss: each regularized layer's activity
        penalty from its last call, then the penalties of the trainable weights that have a
        ``kernel_regularizer``/``bias_regularizer`` (``nn.keras.regularizers``). A module's
        own ``self.losses`` comes first."""
        own = self.__dict__.get("losses")
        if own is not None:
            return own
        from .regularizers import model_penalties
        return model_penalties(self)

    @losses.setter
    def losses(self, value) -> None:
        self.__dict__["losses"] = value

    @losses.deleter
    def losses(self) -> None:
        self.__dict__.pop("losses", None)

    # -- trainable ---------------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        """Keras's ``layer.trainable``: False freezes the layer and every layer inside it (no
        gradient, no update; ``freeze()``), and a frozen ``BatchNormalization`` runs in
        inference mode (its moving statistics neither used from the batch nor updated), as
        Keras's; True unfreezes them all. The transfer-learning line ``base.trainable =
        False`` works as in Keras (compile again after changing it, as Keras asks)."""
        return self.__dict__.get("_keras_trainable", True)

    @trainable.setter
    def trainable(self, value) -> None:
        value = bool(value)
        for m in self.modules():
            m.__dict__["_keras_trainable"] = value
        if value:
            self.unfreeze()
        else:
            self.freeze()

    # -- Sequential ------------------------------------------------------------------------
    def add(self, layer):
        """Keras's ``Sequential.add``: append ``layer`` (Sequential models only)."""
        from ..module import Module, Sequential
        if not isinstance(self, Sequential):
            raise TypeError(f"{type(self).__name__}.add: only a Sequential model has add(); "
                            "assign sub-layers as attributes in __init__")
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.add: expected a layer (an nn.Module), got "
                            f"{type(layer).__name__}")
        self.append(layer)

    # -- compile -----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, **kwargs):
        """Choose the optimizer, the loss and the metrics for ``fit`` and ``evaluate``.

        ``optimizer``: a name ('sgd', 'adam', 'rmsprop', 'adamw': Keras's default
        hyper-parameters), an ``nn.keras.optimizers`` recipe (``SGD(lr=0.5)``,
        ``Adam(0.02)``) or an ``nn.optim`` optimizer built on ``model.parameters()``.
        ``loss``: a name ('mse', 'mae', 'binary_crossentropy', 'categorical_crossentropy',
        'sparse_categorical_crossentropy', 'cross_entropy', ...), an ``nn.keras.losses``
        object or function (``BinaryCrossentropy(from_logits=True)``) or a function;
        ``metrics``: names ('accuracy', 'mae', 'mse', 'auc'), ``nn.keras.metrics`` objects
        (``AUC()``, ``SparseCategoricalAccuracy()``) or functions. Your own functions are
        called as Keras calls them, ``fn(y_true, y_pred)``; stepgrad's ``nn.F`` functions keep
        their PyTorch order ``(pred, target)``. A recipe becomes ``model.optimizer``
        (an ``nn.optim`` optimizer) as soon as every layer is built: now, or at the first
        ``fit`` for lazy layers without an input shape.
        """
        from ..training import _resolve_loss, _resolve_metrics
        _not_supported("compile", loss_weights=loss_weights, weighted_metrics=weighted_metrics)
        unknown = set(kwargs) - {"run_eagerly", "steps_per_execution", "jit_compile"}
        if unknown:
            raise TypeError(f"compile: unexpected argument(s) {sorted(unknown)}")
        if loss is None:
            raise ValueError("compile: give a loss, e.g. loss='mse'")
        _resolve_loss(loss)  # unknown names fail here, not at fit
        metrics = [] if metrics is None else ([metrics] if isinstance(metrics, str)
                                              or callable(metrics) else list(metrics))
        _resolve_metrics(metrics)
        loss = _keras_loss(loss)
        metrics = [_keras_order(m) for m in metrics]
        self.__dict__["_keras_compiled"] = {"loss": loss, "metrics": metrics,
                                            "clipnorm": getattr(optimizer, "global_clipnorm",
                                                                None)}
        self.optimizer = optimizer
        self._keras_bind_optimizer()

    def _keras_state(self, who):
        state = self.__dict__.get("_keras_compiled")
        if state is None:
            raise RuntimeError(f"{type(self).__name__}.{who}: you must call compile() before "
                               f"{who}() (or use nn.{who}(model, ..., loss=...))")
        return state

    def _keras_bind_optimizer(self):
        """Turn a name or recipe into an ``nn.optim`` optimizer when the model is built."""
        from ..training import _model_dtype, _needs_build, build_model, resolve_optimizer
        optimizer = self.__dict__.get("optimizer")
        if hasattr(optimizer, "param_groups"):
            return
        if _needs_build(self):
            shape = self._keras_input_shape()
            if shape is None:
                return  # built by the first fit
            build_model(self, np.zeros((1,) + shape, _model_dtype(self)))
        self.optimizer = resolve_optimizer(optimizer, self, "compile")

    # -- train / evaluate / predict --------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1, scheduler=None):
        """Keras's ``Model.fit``: train for ``epochs`` epochs (default 1) with what
        ``compile`` chose; returns the ``History`` (also kept as ``model.history``).

        ``x``, ``y``: arrays, or ``x`` alone as a DataLoader / Dataset / generator of
        ``(x, y)`` batches. ``validation_split`` holds out the LAST fraction of the arrays,
        before shuffling; ``validation_data`` is ``(x_val, y_val)`` or a loader.
        ``verbose``: 'auto' or 1 (a progress bar), 2 (a line per epoch), 0. ``scheduler``:
        an ``nn.optim`` scheduler on ``model.optimizer`` (our addition).
        ``sample_weight`` (N,) or ``class_weight={class: weight}`` weight the loss as
        Keras's (a batch's loss is ``Σ w_i·ℓ_i / batch size``; metrics unweighted). See
        ``nn.fit``.
        """
        from ..training import fit
        state = self._keras_state("fit")
        _not_supported("fit", validation_steps=validation_steps,
                       validation_batch_size=validation_batch_size)
        if validation_freq != 1:
            raise ValueError("fit: validation_freq must be 1 (validation after every epoch)")
        if hasattr(x, "shape") and len(np.shape(x)) > 1:
            self.__dict__["_keras_fit_shape"] = tuple(int(d) for d in np.shape(x)[1:])
        history = fit(self, x, y, loss=state["loss"], metrics=state["metrics"],
                      optimizer=self.optimizer, epochs=epochs, batch_size=batch_size,
                      validation_data=validation_data, validation_split=validation_split,
                      callbacks=list(callbacks or []), scheduler=scheduler, shuffle=shuffle,
                      verbose=verbose, initial_epoch=initial_epoch, clipnorm=state["clipnorm"],
                      steps_per_epoch=steps_per_epoch, sample_weight=sample_weight,
                      class_weight=class_weight)
        self.optimizer = history.optimizer  # a name or recipe is now the built optimizer
        history.model = self
        self.history = history
        return history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Keras's ``Model.evaluate``: the loss alone when compiled without metrics, else
        ``[loss, *metrics]`` (``{'loss': ..., name: ...}`` with ``return_dict=True``);
        ``sample_weight`` (N,) weights the loss as in ``fit``; ``callbacks`` get Keras's
        test hooks (``on_test_batch_end``...)."""
        from ..training import evaluate
        state = self._keras_state("evaluate")
        return evaluate(self, x, y, loss=state["loss"], metrics=state["metrics"],
                        batch_size=batch_size, return_dict=return_dict, verbose=verbose,
                        steps=steps, sample_weight=sample_weight, callbacks=callbacks)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Keras's ``Model.predict``: the outputs for ``x`` as one numpy array (N, ...)."""
        from ..training import predict
        _not_supported("predict", callbacks=callbacks)
        return predict(self, x, batch_size=batch_size, verbose=verbose, steps=steps)

    # -- one batch -------------------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """Keras's ``Model.train_on_batch``: one optimizer step on the batch ``(x, y)`` (all
        of it, in training mode), with what ``compile`` chose; returns the batch's loss (and
        metrics: ``[loss, *metrics]``, or a dict with ``return_dict=True``), computed before
        the step, as Keras's. ``sample_weight``/``class_weight`` as in ``fit``."""
        from ..training import train_on_batch
        state = self._keras_state("train_on_batch")
        logs, self.optimizer = train_on_batch(
            self, x, y, loss=state["loss"], metrics=state["metrics"],
            optimizer=self.optimizer, clipnorm=state["clipnorm"],
            sample_weight=sample_weight, class_weight=class_weight)
        return _keras_result(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Keras's ``Model.test_on_batch``: the loss (and metrics) on the batch ``(x, y)``
        in eval mode, no update; as ``evaluate`` on one batch holding all of x."""
        from ..training import evaluate
        state = self._keras_state("test_on_batch")
        logs = evaluate(self, x, y, loss=state["loss"], metrics=state["metrics"],
                        batch_size=max(len(x), 1), return_dict=True, verbose=0,
                        sample_weight=sample_weight)
        return _keras_result(logs, return_dict)

    def predict_on_batch(self, x):
        """Keras's ``Model.predict_on_batch``: the outputs for ``x`` (N, ...) as one numpy
        array, in eval mode (one batch: all of x)."""
        from ..training import predict
        return predict(self, x, batch_size=max(len(x), 1), verbose=0)

    # -- summary -------------------------------------------------------------------------------
    def _keras_input_shape(self):
        return input_shape_of(self)

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print Keras's table (layers, output shapes, parameter counts); returns None.

        The input shape comes from the first layer (``input_shape=`` / ``input_dim=``) or
        the last ``fit``; otherwise use ``nn.summary(model, input_shape)``. A Functional
        model (``nn.keras.Model(inputs, outputs)``, one Input or several, one output or
        several) prints Keras 3's Functional table: a row per Input and layer in Keras's
        order, and a "Connected to" column when the model branches (``nn.summary``'s
        ``functional_summary``). The other arguments are accepted and not used."""
        if getattr(self, "_input_list", None) is not None:  # a Functional model: Keras 3's
            from ..summary import functional_summary  # table, with its Inputs (any number)
            (print_fn or print)(str(functional_summary(self)))
            return
        shape = self._keras_input_shape()
        if shape is None:
            raise ValueError(f"{type(self).__name__}.summary: the input shape is unknown; give "
                             "the first layer input_shape=..., call fit() first, or use "
                             "nn.summary(model, input_shape)")
        (print_fn or print)(str(_keras_summary(self, shape)))

    def count_params(self) -> int:
        """Keras's count: every weight, trainable or not — the parameters and the buffers
        (a BatchNormalization's moving mean and variance), the "Total params" of
        ``summary()`` (lazy layers built first when the input shape is known, see
        ``_keras_build``). (It counted the parameters only: 2 short per BatchNormalization
        channel, no error.)"""
        from ..training import _needs_build
        self._keras_build()
        if _needs_build(self):  # Keras raises too: a count of the built layers would be wrong
            lazy = [type(m).__name__ for m in self.modules() if getattr(m, "built", True) is False]
            raise ValueError(f"{type(self).__name__}.count_params: {', '.join(lazy)} not built "
                             f"yet (no input size): give the first layer input_shape=... or "
                             f"start with nn.keras.Input(shape), or call the model once")
        from ..summary import weight_count
        return int(weight_count(self))

    def build(self, input_shape):
        """Keras's ``model.build((None, *sample shape))`` ("The Sequential model" guide's
        ``model.build((None, 4))``): create the lazy layers' weights for that input shape
        now, as a first call would (one forward pass on zeros, see ``_keras_build``), so
        ``summary()``, ``count_params()``, ``get_weights()`` and ``compile``'s optimizer
        work before ``fit``. The batch size (first entry) may be None or any number."""
        shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
        if not shape or len(shape) < 2 or not all(
                isinstance(d, (int, np.integer)) and d > 0 for d in shape[1:]) \
                or not (shape[0] is None or isinstance(shape[0], (int, np.integer))):
            raise ValueError(f"{type(self).__name__}.build: input_shape must be (batch, *one "
                             f"sample's shape) with known sample sizes, e.g. (None, 4); got "
                             f"{input_shape!r}")
        self.__dict__["_keras_fit_shape"] = tuple(int(d) for d in shape[1:])
        self._keras_build()
        if "_keras_compiled" in self.__dict__:  # compiled before: its optimizer can be built
            self._keras_bind_optimizer()

    def _keras_build(self):
        """Build lazy layers from the input shape the model declares (a first ``Input``
        layer, or ``input_shape=``/``input_dim=`` on the first layer), as Keras builds such a
        model at construction: its weights exist before the first call, so ``get_weights``,
        ``count_params`` and ``model.save`` see all of them (not only the built ones). One
        forward pass on zeros, in eval mode under ``no_grad``; stateful layers then forget
        that pass's state. A no-op when every layer is built or the shape is unknown."""
        from ..training import _model_dtype, _needs_build, build_model
        if not _needs_build(self):
            return
        inputs = getattr(self, "_input_list", ())  # a Functional model's Inputs
        shapes = ([getattr(t, "shape", None) for t in inputs] if len(inputs) > 1
                  else [self._keras_input_shape()])
        if any(s is None or None in s for s in shapes):
            return
        dtype = _model_dtype(self)
        samples = [np.zeros((1, *s), dtype) for s in shapes]
        build_model(self, samples if len(samples) > 1 else samples[0])
        for m in self.modules():
            if getattr(m, "stateful", False) and callable(getattr(m, "reset_state", None)):
                m.reset_state()

    # -- weights ---------------------------------------------------------------------------------
    def get_weights(self) -> list:
        """Every layer's weights, in Keras's order and LAYOUTS (copies): a Dense/Linear
        kernel is (in, units) — the transpose of ``weight`` —, a Conv2d kernel
        (kh, kw, in, out), a recurrent layer ``[kernel (in, G·units), recurrent_kernel
        (units, G·units), bias]`` (GRU: Keras's gate order z, r, h and bias (2, 3·units)),
        BatchNorm ``[gamma, beta, moving_mean, moving_variance]``. Other layers give their
        parameters then buffers as stored. ``set_weights`` takes the same list."""
        from .weights import get_weights
        self._keras_build()
        return get_weights(self)

    def set_weights(self, weights) -> None:
        """Load a ``get_weights()``-style list (Keras layouts); every shape is checked before
        anything changes."""
        from .weights import set_weights
        self._keras_build()
        set_weights(self, weights)

    # -- saving ------------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The constructor arguments (read from the attributes named after them)."""
        from .saving import constructor_config
        return constructor_config(self)

    def save(self, filepath, overwrite=True, include_optimizer=True):
        """Save the whole model — architecture (as data), weights, compile settings and
        optimizer state — to one file; ``nn.load_model(filepath)`` rebuilds it."""
        from .saving import save_model
        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath):
        """The weights only (``nn.save(model.state_dict(), filepath)``)."""
        from ..serialization import save
        self._keras_build()
        save(self.state_dict(), filepath)

    def load_weights(self, filepath):
        """Load what ``save_weights`` (or ``model.save``) wrote."""
        from ..serialization import load
        data = load(filepath)
        if isinstance(data, dict) and "model" in data and isinstance(data["model"], dict):
            data = data["model"]
        self._keras_build()
        self.load_state_dict(data)


_MISSING = object()


def _probe(model, shape):
    """``model`` run once on a zero sample of ``shape`` in its dtype, in eval mode under
    ``no_grad``; modes and stateful layers' states are put back."""
    import engine

    from ..training import _model_dtype
    modes = [(m, m.training) for m in model.modules()]
    states = [(m, m.state) for m in model.modules() if getattr(m, "stateful", False)]
    try:
        model.eval()
        with engine.no_grad():
            return model(engine.tensor(np.zeros((1, *shape), _model_dtype(model))))
    finally:
        for m, training in modes:
            m.training = training
        for m, state in states:
            m.state = state


def _keras_result(logs, return_dict):
    """Keras's return form: the dict, or the loss alone, or ``[loss, *metrics]``."""
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _keras_summary(model, shape):
    """``nn.summary``'s table with each Keras wrapper (``Bidirectional``,
    ``TimeDistributed``: ``keras_wrapper = True``) as one row — its output shape and all its
    parameters — where ``nn.summary`` lists the layers inside it, as Keras's table shows
    ``bidirectional (Bidirectional)``; and Keras's class names (``KerasLSTM`` is ``LSTM``)."""
    from ..summary import _shape_text, summary, weight_count
    wrappers = {}
    for name, m in model.named_modules():
        if name and getattr(m, "keras_wrapper", False) \
                and not any(name.startswith(w + ".") for w in wrappers):
            wrappers[name] = m
    outputs = {}
    for name, m in wrappers.items():
        def traced(*args, _name=name, _fwd=m.forward, **kwargs):
            out = _fwd(*args, **kwargs)
            outputs.setdefault(_name, out)
            return out
        object.__setattr__(m, "forward", traced)
    try:
        table = summary(model, shape)
    finally:
        for m in wrappers.values():
            object.__delattr__(m, "forward")
    from .functional import keras_class_name
    classes = {name: keras_class_name(m) for name, m in model.named_modules()}
    rows, done = [], set()
    for row in table.rows:
        owner = next((w for w in wrappers if row[0].startswith(w + ".")), None)
        if owner is None:  # KerasLSTM shows as Keras's LSTM
            rows.append((row[0], classes.get(row[0], row[1]), *row[2:]))
        elif owner not in done:
            done.add(owner)
            m = wrappers[owner]
            count = weight_count(m)
            rows.append((owner, type(m).__name__, _shape_text(outputs.get(owner)), count))
    table.rows = rows
    return table


def _keras_order(fn):
    """A loss or metric given to ``compile`` as Keras calls it: a function of the user's is
    ``fn(y_true, y_pred)`` (Keras's order), while ``fit`` calls ``loss(pred, target)``
    (PyTorch's, the order of stepgrad's ``nn.F`` losses): such a function is wrapped to
    swap them back. Names and stepgrad's own functions pass unchanged. (Without this a
    custom loss saw its arguments the other way round: a metric mean(y_pred − y_true)
    flipped its sign, no error.) An ``nn.keras.losses`` object — your subclass of
    ``keras.losses.Loss`` too — passes unchanged: ``fit`` takes its own form of it (its
    sample weights, and the targets as Keras gives them to its ``call``)."""
    if not callable(fn) or getattr(fn, "__module__", "").split(".")[0] in ("nn", "engine") \
            or callable(getattr(fn, "_fit_loss", None)):
        return fn

    from ..training import _align
    name = getattr(fn, "__name__", type(fn).__name__)

    def keras_order(pred, target):
        # Keras gives a metric function the targets as they are (fit's metrics get them so:
        # raw_targets): y_true (N,) against y_pred (N, 1) broadcasts there to (N, N), so that
        # case is refused rather than aligned into another number than Keras's
        if _align(pred, target) is not target:
            raise ValueError(
                f"metric {name!r}: y_true has shape {tuple(target.shape)} and y_pred "
                f"{tuple(pred.shape)}; Keras gives a metric function both as they are, so "
                f"y_true - y_pred would broadcast to another shape (a silently wrong value). "
                f"Give the targets the predictions' rank (y.reshape(-1, 1) for one output)")
        value = fn(target, pred)
        # Keras averages the per-sample values a metric function returns (its
        # MeanMetricWrapper): mean(..., axis=-1) gives (N,), a non-scalar fit refused
        return value.mean() if getattr(value, "ndim", 0) else value
    keras_order.__name__ = name
    keras_order.raw_targets = True
    return keras_order


def _keras_loss(fn):
    """``compile``'s loss: ``_keras_order``'s rule, and a function of the user's becomes a
    loss whose per-sample values ``fit`` knows: Keras wraps it (``LossFunctionWrapper``,
    the targets aligned to the predictions' rank) and averages what it returns — the
    per-sample values ``mean(square(y_true − y_pred), axis=-1)`` of Keras's guides (N,), or
    one number —, weighted by ``sample_weight``/``class_weight`` when given. (A (N,) result
    was refused: 'expected a scalar'.)"""
    if _keras_order(fn) is fn:
        return fn
    from ..training import _Loss

    name = getattr(fn, "__name__", type(fn).__name__)

    def per_sample(pred, target, reduction="mean"):
        values = fn(target, pred)
        if reduction == "mean":
            return values.mean() if getattr(values, "ndim", 0) else values
        if getattr(values, "ndim", 0) == 0:  # weights asked for the per-sample values
            raise ValueError(f"loss {name!r} returned one number: with sample weights (or "
                             f"class weights) a loss function must return one value per "
                             f"sample, shape ({len(pred)},) (Keras then averages the "
                             f"weighted values), not their mean")
        return values
    return _Loss(name, per_sample)
