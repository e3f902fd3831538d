"""Let mmengine wrap a CPU model in ``MMDistributedDataParallel``.

``Runner.wrap_model`` (mmengine 0.10.7,
https://github.com/open-mmlab/mmengine/blob/v0.10.7/mmengine/runner/runner.py)
always passes ``device_ids=[LOCAL_RANK]``; torch's DDP refuses that for a
module on CPU ("device_ids and output_device arguments only work with
single-device/multiple-device GPU modules or CPU modules"). For a module
whose parameters are all on CPU, ``device_ids``/``output_device`` are
dropped, which is what DDP expects there. GPU modules are untouched.
"""


def apply() -> bool:
    """Drop ``device_ids`` for an all-CPU module.

    Returns:
        bool: whether the patch was installed.
    """
    from mmengine.model import MMDistributedDataParallel

    original = MMDistributedDataParallel.__init__

    def __init__(self, module, *args, **kwargs):
        devices = {p.device.type for p in module.parameters()}
        if devices == {'cpu'}:
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        original(self, module, *args, **kwargs)

    MMDistributedDataParallel.__init__ = __init__
    return True
