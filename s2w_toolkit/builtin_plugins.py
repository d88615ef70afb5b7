"""The toolkit's own backbones and explainers, registered through the same hooks as any plugin.

Classes are named by reference so that listing them does not import torch; each backbone
reference carries the labels ``s2w plugins`` shows (a test checks them against the classes).

Example:
    >>> [ref.name for ref in s2w_register_backbones()][:3]
    ['dlib-resnet', 'arcface-r18', 'arcface-r34']
"""

from __future__ import annotations

from .hookspecs import hookimpl
from .lazy import ClassRef


def _backbone(target: str, name: str, input: str, embedding: str) -> ClassRef:
    return ClassRef(f"s2w_toolkit.backbones.{target}", name=name, details={"input": input, "embedding": embedding})


def _class_name(*parts: str) -> str:
    return "".join(p.title() for p in parts)


@hookimpl
def s2w_register_backbones():
    refs = [_backbone("dlib_resnet:DlibResNet", "dlib-resnet", "150x150", "128")]
    for family in ("arcface", "cosface"):
        for depth in (18, 34, 50, 100):
            refs.append(_backbone(f"iresnet:{_class_name(family)}R{depth}", f"{family}-r{depth}", "112x112", "512"))
    for family in ("resnet50", "senet50"):
        for suffix in ("", "_ft", "_scratch"):
            cls = f"VGGFace2{_class_name(family)}{suffix.title().replace('_', '')}"
            refs.append(_backbone(f"vggface2:{cls}", f"vggface2-{family}{suffix}", "224x224", "2048"))
    refs.append(_backbone("edl:EDLIResNet50", "edl-iresnet50", "112x112", "512"))
    refs.append(_backbone("faceres:FaceResBackbone", "faceres", "224x224", "1024"))
    refs.append(_backbone("onnx_model:OnnxBackbone", "onnx", "per file", "per file"))
    return refs


@hookimpl
def s2w_register_attribute_models():
    return [
        ClassRef("s2w_toolkit.attributes.sim2word_net:Sim2WordAttributes", name="sim2word-resnet50"),
        ClassRef("s2w_toolkit.attributes.age_gender:AgeGender", name="age-gender"),
        ClassRef("s2w_toolkit.attributes.face_parts:FaceParts", name="face-parts"),
        ClassRef("s2w_toolkit.attributes.face_geometry:FaceGeometry", name="face-geometry"),
        ClassRef("s2w_toolkit.attributes.face_areas:FaceAreas", name="face-areas"),
        ClassRef("s2w_toolkit.attributes.mediapipe:MediaPipeAttributes", name="mediapipe"),
        ClassRef("s2w_toolkit.attributes.faceres:FaceResAttributes", name="faceres"),
        ClassRef("s2w_toolkit.attributes.linear_heads:LinearHeads", name="linear-heads"),
    ]


@hookimpl
def s2w_register_explainers():
    return [
        ClassRef("s2w_toolkit.sim2word.explainer:Sim2WordExplainer", name="sim2word"),
        ClassRef("s2w_toolkit.explainers.input_gradient:InputGradientExplainer", name="input-gradient"),
        ClassRef("s2w_toolkit.explainers.controls:RandomMapExplainer", name="random"),
        ClassRef("s2w_toolkit.explainers.controls:CentreBlobExplainer", name="centre"),
    ]


@hookimpl
def s2w_register_metrics():
    return [ClassRef(f"s2w_toolkit.bench.builtin_metrics:{cls}", name=name) for cls, name in (
        ("DeletionInsertion", "deletion"), ("Replacement", "replacement"), ("AucDrop", "auc-drop"),
        ("Sanity", "sanity"), ("Verification", "verification"), ("Cost", "cost"))]
