"""Let mmaction2's ``ResNetTSM(pretrained=None)`` initialise.

``ResNetTSM.init_weights`` (mmaction2 1.2.0,
https://github.com/open-mmlab/mmaction2/blob/v1.2.0/mmaction/models/backbones/resnet_tsm.py)
loads 2D weights whenever ``pretrained2d`` is True (its default), even when
``pretrained`` is None, and crashes in ``_load_checkpoint(None)``. The stock
model from scratch is the reference of our backbone's tests and benchmarks.
"""


def apply() -> bool:
    """Skip the 2D weight loading when there is nothing to load.

    Returns:
        bool: whether the patch was installed.
    """
    from mmaction.models.backbones.resnet_tsm import ResNetTSM

    original = ResNetTSM.init_weights

    def init_weights(self):
        if self.pretrained2d and self.pretrained is None:
            self.pretrained2d = False  # nothing to load: plain ResNet init
        original(self)

    ResNetTSM.init_weights = init_weights
    return True
