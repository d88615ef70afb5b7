"""The face-recognition networks the toolkit explains (dlib-resnet, arcface and cosface
iresnets, VGGFace2, ONNX models, any wrapped ``nn.Module``) and reading their weights safely.

Example:
    >>> from s2w_toolkit import load_backbone
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> net.name, net.input_size, net.embedding_dim
    ('dlib-resnet', (150, 150), 128)
"""
