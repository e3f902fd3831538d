"""tools/test.py: --num-frames goes through the one frame-count override."""

import pytest

from tests.helpers import RECIPE, frame_settings
from tsm_plugin.apis import test as test_api
from tsm_plugin.errors import InputError
from tsm_plugin.utils.config import load_config


def test_tools_test_num_frames_goes_through_the_same_override(tmp_path):
    ckpt = tmp_path / 'x.pth'
    ckpt.write_bytes(b'')
    args = test_api.build_parser().parse_args(
        [RECIPE, str(ckpt), '--num-frames', '12']
    )
    cfg = test_api.merge_args(load_config(RECIPE), args)
    assert frame_settings(cfg) == (12, 12, [12, 12, 12])
    args.num_frames = 0
    with pytest.raises(InputError, match='--num-frames must be >= 1, got 0'):
        test_api.merge_args(load_config(RECIPE), args)
