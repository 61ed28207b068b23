"""Open-NSFW as ONNX graphs for ONNX Runtime: built from the converted Keras weights, then quantized.

`manage.py models_install` writes two files beside open_nsfw_weights.h5 (model_files.py):

- open_nsfw.onnx: the same network, fp32, written node by node from the weights file (no exporter,
  no download). Each BatchNormalization is folded into the convolution before it (elementwise numpy
  arithmetic only, so the bytes are the same on every machine; their sha256 is pinned). The graph
  takes the classifier's NHWC arrays (YAHOO preprocessing, unchanged) and transposes them itself.
- open_nsfw.int8.onnx: static QDQ int8 (weights per channel, activations per tensor), calibrated on
  public-domain photos that ship with scikit-image and matplotlib. Calibration runs the network in
  ONNX Runtime, whose kernels may differ between CPUs in the last bits, so these bytes are not pinned
  (on one machine they are reproducible): the file is instead checked at install time against the
  fp32 graph on fixed photos (INT8_MAX_DIFF).

Keras "same" padding puts the odd pixel at the end (bottom/right); the pads below follow it, so the
fp32 graph agrees with the Keras model to float rounding (checked at install, FP32_MAX_DIFF).
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np

BN_EPSILON = 1e-5  # opennsfw2's BatchNormalization (Caffe's default)
OPSET = 17
INPUT_NAME = "input"  # NHWC float32, YAHOO-preprocessed (BGR, mean subtracted), 224 x 224
OUTPUT_NAME = "probabilities"  # [N, 2]: (sfw, nsfw)
FP32_MAX_DIFF = 1e-5  # largest |difference| from the Keras model's probabilities on the same inputs
# Largest |difference| of the int8 graph's NSFW probability from the fp32 graph's on VALIDATION_PHOTOS
# (measured 0.0170 on an AVX2-only CPU): it catches a broken quantization; other images can differ more (README).
INT8_MAX_DIFF = 0.02
# Stages of (filters of the 1x1, 3x3, 1x1 convolutions, blocks, stride of the first block).
STAGES = (((32, 32, 128), 3, 1), ((64, 64, 256), 4, 2), ((128, 128, 512), 6, 2), ((256, 256, 1024), 3, 2))
# Photos (public domain or CC0) shipped in scikit-image's data folder, or matplotlib's ("mpl:"): the
# int8 graph's activation ranges are calibrated on the first set and checked on the second, unseen one.
CALIBRATION_PHOTOS = (
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "hubble_deep_field.jpg",
    "camera.png",
    "coins.png",
    "mpl:grace_hopper.jpg",
)
VALIDATION_PHOTOS = ("astronaut.png", "retina.jpg", "ihc.png", "brick.png", "grass.png", "page.png", "color.png")


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) as Keras/TensorFlow pad for padding="same": the odd pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _GraphBuilder:
    def __init__(self, weights_path: Path) -> None:
        import h5py

        self._h5 = h5py.File(weights_path, "r")
        self.nodes: list = []
        self.initializers: list = []

    def close(self) -> None:
        self._h5.close()

    def _weights(self, layer: str) -> dict[str, np.ndarray]:
        group = self._h5[layer][layer]
        return {name: np.asarray(group[name], dtype=np.float64) for name in group}

    def _constant(self, name: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def conv_bn(self, x: str, conv: str, bn: str, *, size: int, stride: int, pads: tuple[int, int] | None = None):
        """Conv2D + BatchNormalization folded into one Conv (OIHW). Returns (output, output size)."""
        c, b = self._weights(conv), self._weights(bn)
        kernel = c["kernel"].transpose(3, 2, 0, 1)  # HWIO -> OIHW
        scale = b["gamma"] / np.sqrt(b["moving_variance"] + BN_EPSILON)
        weight = kernel * scale[:, None, None, None]
        bias = (c["bias"] - b["moving_mean"]) * scale + b["beta"]
        k = kernel.shape[2]
        before, after = pads if pads is not None else _same_pads(size, k, stride)
        out = self.node(
            "Conv",
            [x, self._constant(f"{conv}.weight", weight), self._constant(f"{conv}.bias", bias)],
            conv,
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=[before, before, after, after],
        )
        return out, (size + before + after - k) // stride + 1

    def block(self, x: str, stage: int, block: int, size: int, stride: int, projection: bool):
        base = f"stage{stage}_block{block}"
        y, out_size = self.conv_bn(x, f"conv_{base}_branch2a", f"bn_{base}_branch2a", size=size, stride=stride)
        y = self.node("Relu", [y], f"activation_{base}_branch2a")
        y, _ = self.conv_bn(y, f"conv_{base}_branch2b", f"bn_{base}_branch2b", size=out_size, stride=1)
        y = self.node("Relu", [y], f"activation_{base}_branch2b")
        y, _ = self.conv_bn(y, f"conv_{base}_branch2c", f"bn_{base}_branch2c", size=out_size, stride=1)
        shortcut = x
        if projection:
            shortcut, _ = self.conv_bn(
                x, f"conv_{base}_proj_shortcut", f"bn_{base}_proj_shortcut", size=size, stride=stride
            )
        y = self.node("Add", [y, shortcut], f"add_{base}")
        return self.node("Relu", [y], f"activation_{base}"), out_size


def nsfw_onnx_build(*, weights_path: Path, target: Path) -> None:
    """Write the fp32 ONNX graph of opennsfw2's model with the weights in `weights_path` (legacy h5)."""
    import onnx
    from onnx import TensorProto, helper

    g = _GraphBuilder(weights_path)
    try:
        x = g.node("Transpose", [INPUT_NAME], "nchw", perm=[0, 3, 1, 2])
        x, size = g.conv_bn(x, "conv_1", "bn_1", size=224, stride=2, pads=(3, 3))  # ZeroPadding2D(3) + valid
        x = g.node("Relu", [x], "activation")
        before, after = _same_pads(size, 3, 2)
        x = g.node(
            "MaxPool", [x], "max_pooling2d", kernel_shape=[3, 3], strides=[2, 2], pads=[before, before, after, after]
        )
        size = (size + before + after - 3) // 2 + 1
        for stage, (_filters, blocks, stride) in enumerate(STAGES):
            for block in range(blocks):
                x, size = g.block(x, stage, block, size, stride if block == 0 else 1, projection=block == 0)
        x = g.node("GlobalAveragePool", [x], "global_average_pooling2d")
        x = g.node("Flatten", [x], "flatten", axis=1)
        fc = g._weights("fc_nsfw")
        x = g.node(
            "Gemm", [x, g._constant("fc_nsfw.weight", fc["kernel"]), g._constant("fc_nsfw.bias", fc["bias"])], "fc_nsfw"
        )
        g.node("Softmax", [x], OUTPUT_NAME, axis=1)
        graph = helper.make_graph(
            g.nodes,
            "open_nsfw",
            [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", 224, 224, 3])],
            [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", 2])],
            g.initializers,
        )
    finally:
        g.close()
    model = helper.make_model(
        graph, producer_name="halobuzz-models_install", opset_imports=[helper.make_opsetid("", OPSET)]
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    target.write_bytes(model.SerializeToString(deterministic=True))


def photo_path(name: str) -> Path:
    if name.startswith("mpl:"):
        import matplotlib.cbook

        return Path(matplotlib.cbook.get_sample_data(name.removeprefix("mpl:"), asfileobj=False))
    import skimage.data

    return Path(skimage.data.__file__).parent / name


def photo_arrays(names: tuple[str, ...]) -> np.ndarray:
    """The photos, YAHOO-preprocessed exactly as the classifier does, and each one mirrored too (to
    the network a mirror image is another input)."""
    from PIL import Image, ImageOps

    from apps.moderation.classifier import yahoo_preprocess

    arrays = []
    for name in names:
        with Image.open(photo_path(name)) as image:
            photo = image.convert("RGB")
        arrays += [yahoo_preprocess(photo), yahoo_preprocess(ImageOps.mirror(photo))]
    return np.stack(arrays).astype(np.float32)


def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def probabilities(path: Path, arrays: np.ndarray) -> np.ndarray:
    """The (sfw, nsfw) probabilities of preprocessed arrays under the ONNX graph at `path`."""
    session = _session(path)
    return np.concatenate([session.run([OUTPUT_NAME], {INPUT_NAME: a[None]})[0] for a in arrays])


def nsfw_onnx_quantize(*, fp32_path: Path, target: Path) -> None:
    """Static QDQ int8: weights int8 per output channel (the first convolution's uint8), activations
    uint8 per tensor, their ranges (min/max) taken from CALIBRATION_PHOTOS. The final Gemm and Softmax
    stay fp32 (tiny, and they set the probability's last digits)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Photos(CalibrationDataReader):
        def __init__(self) -> None:
            self._arrays: Iterator[np.ndarray] = iter(photo_arrays(CALIBRATION_PHOTOS))

        def get_next(self):
            array = next(self._arrays, None)
            return None if array is None else {INPUT_NAME: array[None]}

    quantize_static(
        str(fp32_path),
        str(target),
        Photos(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=["fc_nsfw", OUTPUT_NAME],
        # The first convolution's weights are uint8: on x86 CPUs without VNNI (AVX2 only), ONNX Runtime's
        # uint8 x int8 kernel adds pairs of products in 16 bits, which saturate on this layer's wide
        # input range (there the NSFW score moved by 0.080; with this override 0.017, no slower).
        extra_options={"TensorQuantOverrides": {"conv_1.weight": [{"quant_type": QuantType.QUInt8}]}},
    )
