"""TSM backbone: the pure temporal shift op and the registered TSMResNet."""
from .temporal_shift import TemporalShift, temporal_shift
from .tsm_resnet import TSMResNet

__all__ = ['TSMResNet', 'TemporalShift', 'temporal_shift']
