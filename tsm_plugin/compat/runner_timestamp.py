"""Give every Runner built in one process its own log and instances.

mmengine 0.10.7's ``Runner``
(https://github.com/open-mmlab/mmengine/blob/v0.10.7/mmengine/runner/runner.py,
``setup_env`` and ``__init__``) names its log directory
``<work_dir>/<timestamp>`` and its logger, message hub and visualizer
``<config name>_<timestamp>``, the timestamp to the second, and
``get_instance`` returns the instance already made under a name. So a second
Runner of the same config built within the same second in one process (a
script calling ``tools/test.py``'s ``test()`` twice, ``tools/eval_tfd.py
--compare`` with two checkpoints of one config on a small split) writes its
whole log into the first run's file and leaves its own log directory empty.
A timestamp this process has already given out gets a count
(``20261203_122907_2``); every rank builds its Runners in the same order, so
the ranks agree on it.
"""


def apply() -> bool:
    """Make each Runner's timestamp unique within the process.

    Returns:
        bool: whether the patch was installed.
    """
    from mmengine.runner import Runner

    original = Runner.setup_env
    given = {}

    def setup_env(self, env_cfg):
        original(self, env_cfg)
        count = given[self._timestamp] = given.get(self._timestamp, 0) + 1
        if count > 1:
            self._timestamp = f'{self._timestamp}_{count}'

    Runner.setup_env = setup_env
    return True
