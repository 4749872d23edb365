"""The course's BatchNorm table (course 002, items 002-bn-1..4) run in TensorFlow's Keras,
as a reference for notebook 07: not part of stepgrad, not run by its tests.

The listing is the course's (Dense 256-128-64-10, relu, softmax; with BN: Dense without
bias -> BatchNormalization -> relu), trained with SGD (the optimizer the settings imply,
see notebook 07), sparse categorical cross-entropy, 10 epochs; settings as the slides.

    python bn_table_tf_keras.py data.npz [settings] [seeds] [init_layers]

data.npz holds x, y, xt, yt (uint8 images, int labels) -- notebook 07 says how it wrote
them; settings e.g. "1,2,3,4"; seeds e.g. "0,1,2"; init_layers "all" (default) or
"hidden" (RandomUniform(-5, 5) only on the hidden Dense layers in setting 3).
Run with tensorflow-cpu 2.15.1 (Keras 2.15) in a separate virtual environment.
"""
import sys
import time

import numpy as np
import tensorflow as tf
from tensorflow.keras import layers

SETTINGS = {"1": (128, 0.01, False, True), "2": (1024, 1.0, False, True),
            "3": (128, 0.01, True, True), "4": (128, 0.01, False, False)}


def model(batchnorm, init, init_out):
    m = tf.keras.Sequential()
    for i, units in enumerate((256, 128, 64)):
        kw = {"input_shape": (784,)} if i == 0 else {}
        if batchnorm:
            m.add(layers.Dense(units, use_bias=False, kernel_initializer=init, **kw))
            m.add(layers.BatchNormalization())
            m.add(layers.Activation("relu"))
        else:
            m.add(layers.Dense(units, activation="relu", kernel_initializer=init, **kw))
    m.add(layers.Dense(10, activation="softmax", kernel_initializer=init_out))
    return m


def main():
    data = np.load(sys.argv[1])
    settings = sys.argv[2].split(",") if len(sys.argv) > 2 else list(SETTINGS)
    seeds = [int(s) for s in sys.argv[3].split(",")] if len(sys.argv) > 3 else [0]
    init_layers = sys.argv[4] if len(sys.argv) > 4 else "all"
    x = data["x"].reshape(len(data["x"]), -1).astype("float32")
    xt = data["xt"].reshape(len(data["xt"]), -1).astype("float32")
    for s in settings:
        batch, lr, uniform, scaled = SETTINGS[s]
        for seed in seeds:
            accs = []
            for batchnorm in (False, True):
                tf.keras.utils.set_random_seed(seed)
                init = (tf.keras.initializers.RandomUniform(minval=-5, maxval=5) if uniform
                        else "glorot_uniform")
                init_out = init if init_layers == "all" else "glorot_uniform"
                m = model(batchnorm, init, init_out)
                m.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=lr),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
                d = 255.0 if scaled else 1.0
                t = time.perf_counter()
                m.fit(x / d, data["y"], batch_size=batch, epochs=10, verbose=0)
                accs.append(m.evaluate(xt / d, data["yt"], verbose=0)[1])
                print(f"setting {s} seed {seed} BN={batchnorm}: test accuracy {accs[-1]:.3f} "
                      f"({time.perf_counter() - t:.0f} s)", flush=True)
            print(f"SETTING {s} seed {seed} init_layers={init_layers}: without BN {accs[0]:.3f}"
                  f" / with BN {accs[1]:.3f}", flush=True)


if __name__ == "__main__":
    main()
