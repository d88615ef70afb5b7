"""Reader for dlib's DNN serialisation, written without dlib.

dlib stores a network as nested ``serialize`` calls: ints with a control byte, strings as
length + bytes, tensors as raw little-endian float32. An ``add_layer`` writes its version,
then its sub-network, then its own details, so the file holds one version int per layer from
the output down to the input, then the layers' details from the input up to the output. Tag
and skip layers store only their version, so the reader returns them as ``"tag_or_skip"``
and the caller checks the sequence against the architecture it expects.

Example:
    >>> from s2w_toolkit.weights.packaged import model_file
    >>> net = read_dlib_net(model_file("dlib_face_recognition_resnet_model_v1.dat"))
    >>> net.loss["kind"], net.layers[1]["kind"]
    ('loss_metric', 'con')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CheckpointError
from .formats import check_weights_file

ADD_LAYER_VERSIONS = (2, 3)
TAG_OR_SKIP_VERSION = 1


class _Stream:
    """A cursor over the bytes of a dlib file."""

    def __init__(self, data: bytes, path: str) -> None:
        self.data = data
        self.pos = 0
        self.path = path

    def fail(self, what: str) -> CheckpointError:
        return CheckpointError(f"{self.path}: not a dlib network file ({what} at byte {self.pos})")

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise CheckpointError(f"{self.path}: file is truncated (needed {n} bytes at byte {self.pos})")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def peek_byte(self) -> int:
        if self.pos >= len(self.data):
            raise CheckpointError(f"{self.path}: file is truncated at byte {self.pos}")
        return self.data[self.pos]

    def int_(self) -> int:
        control = self.take(1)[0]
        size = control & 0x0F
        if size > 8 or control & 0x70:
            raise self.fail(f"bad integer control byte 0x{control:02x}")
        value = int.from_bytes(self.take(size), "little") if size else 0
        return -value if control & 0x80 else value

    def string(self) -> str:
        n = self.int_()
        if n < 0 or n > 1 << 16:
            raise self.fail(f"implausible string length {n}")
        return self.take(n).decode("latin1")

    def bool_(self) -> bool:
        ch = self.take(1)
        if ch not in (b"0", b"1"):
            raise self.fail(f"bad bool {ch!r}")
        return ch == b"1"

    def float_(self) -> float:
        mantissa = self.int_()
        exponent = self.int_()
        return float(mantissa) * 2.0**exponent

    def tensor(self) -> np.ndarray:
        version = self.int_()
        if version != 2:
            raise self.fail(f"unexpected tensor version {version}")
        shape = tuple(self.int_() for _ in range(4))
        if any(s < 0 for s in shape):
            raise self.fail(f"negative tensor shape {shape}")
        count = int(np.prod(shape))
        raw = self.take(4 * count)
        return np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)

    def alias_tensor(self) -> tuple[int, ...]:
        version = self.int_()
        if version != 1:
            raise self.fail(f"unexpected alias_tensor version {version}")
        return tuple(self.int_() for _ in range(4))


def _read_con(s: _Stream, version: str) -> dict:
    params = s.tensor()
    num_filters, nr, nc, stride_y, stride_x, pad_y, pad_x = (s.int_() for _ in range(7))
    filters = s.alias_tensor()
    biases = s.alias_tensor()
    for _ in range(4 if version in ("con_4", "con_5", "con_6") else 0):
        s.float_()  # learning-rate and weight-decay multipliers
    use_bias = s.bool_() if version in ("con_5", "con_6") else True
    if version == "con_6":
        s.bool_()  # use_relu
    n_w = int(np.prod(filters))
    weight = params.reshape(-1)[:n_w].reshape(filters)
    bias = params.reshape(-1)[n_w : n_w + int(np.prod(biases))] if use_bias else None
    return dict(kind="con", weight=weight, bias=bias, num_filters=num_filters, kernel=(nr, nc),
                stride=(stride_y, stride_x), padding=(pad_y, pad_x))


def _read_affine(s: _Stream, version: str) -> dict:
    params = s.tensor().reshape(-1)  # gamma then beta
    n_gamma = int(np.prod(s.alias_tensor()))
    n_beta = int(np.prod(s.alias_tensor()))
    if params.size != n_gamma + n_beta:
        raise s.fail("affine parameters do not match their shapes")
    gamma, beta = params[:n_gamma], params[n_gamma:]
    mode = s.int_()
    if version == "affine_2":
        s.bool_()  # disabled
    return dict(kind="affine", gamma=gamma, beta=beta, mode=mode)


def _read_pool(kind: str):
    def read(s: _Stream, version: str) -> dict:
        nr, nc, stride_y, stride_x, pad_y, pad_x = (s.int_() for _ in range(6))
        return dict(kind=kind, kernel=(nr, nc), stride=(stride_y, stride_x), padding=(pad_y, pad_x))

    return read


def _read_fc(s: _Stream, version: str) -> dict:
    num_outputs = s.int_()
    num_inputs = s.int_()
    params = s.tensor()
    weights = s.alias_tensor()
    biases = s.alias_tensor()
    bias_mode = s.int_()
    for _ in range(4):
        s.float_()
    use_bias = s.bool_() if version == "fc_3" else True
    flat = params.reshape(-1)
    n_w = int(np.prod(weights))
    weight = flat[:n_w].reshape(num_inputs, num_outputs)
    has_bias = use_bias and int(np.prod(biases)) > 0 and flat.size > n_w
    bias = flat[n_w : n_w + num_outputs] if has_bias else None
    return dict(kind="fc", weight=weight, bias=bias, bias_mode=bias_mode)


def _read_relu(s: _Stream, version: str) -> dict:
    if version == "relu_2":
        s.bool_()
    return dict(kind="relu")


_READERS = {
    "con": _read_con,
    "affine": _read_affine,
    "max_pool": _read_pool("max_pool"),
    "avg_pool": _read_pool("avg_pool"),
    "fc": _read_fc,
    "relu": _read_relu,
    "add_prev": lambda s, v: dict(kind="add_prev"),
}


def _layer_kind(version: str) -> str:
    base = version.rstrip("0123456789").rstrip("_")
    if base.startswith("bn_"):
        base = "bn"
    return base


@dataclass
class DlibNet:
    """A dlib network as read from disk: the loss, the input layer, then layers input-to-output.

    ``layers[0]`` is the input layer; each later entry is a dict with a ``kind`` (``con``,
    ``affine``, ``relu``, ``max_pool``, ``avg_pool``, ``add_prev``, ``fc`` or ``tag_or_skip``)
    and its parameters as numpy arrays.

    Example:
        >>> from s2w_toolkit.weights.packaged import model_file
        >>> net = read_dlib_net(model_file("dlib_face_recognition_resnet_model_v1.dat"))
        >>> net.kinds()[:3], net.kinds()[-2:]
        (['input', 'con', 'affine'], ['avg_pool', 'fc'])
    """

    loss: dict
    layers: list[dict] = field(default_factory=list)

    def kinds(self) -> list[str]:
        return [layer["kind"] for layer in self.layers]


def _read_input(s: _Stream, name: str) -> dict:
    if name != "input_rgb_image_sized":
        raise s.fail(f"unsupported input layer {name!r}")
    means = tuple(s.float_() for _ in range(3))
    nr, nc = s.int_(), s.int_()
    return dict(kind="input", mean_rgb=means, size=(nr, nc))


def _read_details(s: _Stream) -> dict:
    version = s.string()
    reader = _READERS.get(_layer_kind(version))
    if reader is None:
        raise s.fail(f"unsupported layer {version!r}")
    return reader(s, version)


def read_dlib_net(path: str | Path) -> DlibNet:
    """Parse a dlib ``loss_metric`` network file into numpy arrays.

    Raises :class:`~s2w_toolkit.errors.CheckpointError` with a one-line message on a file that
    is not such a network, is truncated, or has bytes left over.
    """
    path = check_weights_file(path, "checkpoint file")  # a FIFO would block the read
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read checkpoint ({exc.strerror})") from None
    s = _Stream(data, str(path))
    if s.int_() != 1:
        raise s.fail("unexpected loss-layer version")
    loss_version = s.string()
    if not loss_version.startswith("loss_metric"):
        raise s.fail(f"unsupported loss {loss_version!r}")
    loss = dict(kind="loss_metric", margin=s.float_(), distance_threshold=s.float_())

    versions: list[int] = []
    while True:
        value = s.int_()
        if value in ADD_LAYER_VERSIONS or value == TAG_OR_SKIP_VERSION:
            versions.append(value)
            continue
        break
    # ``value`` is now the length of the input layer's name; the bottom add_layer holds it.
    if not versions or versions[-1] not in ADD_LAYER_VERSIONS:
        raise s.fail("no input layer")
    name = s.take(value).decode("latin1")
    net = DlibNet(loss=loss, layers=[_read_input(s, name)])

    for i, version in enumerate(reversed(versions)):
        if version == TAG_OR_SKIP_VERSION:
            net.layers.append(dict(kind="tag_or_skip"))
            continue
        net.layers.append(_read_details(s))
        for _ in range(3):
            s.bool_()
        for _ in range(3):
            s.tensor()
        if i == 0 and version == 3:
            s.int_()  # sample expansion factor of the input add_layer
    if s.pos != len(data):
        raise s.fail(f"{len(data) - s.pos} unexpected trailing bytes")
    return net

